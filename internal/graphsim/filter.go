package graphsim

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"unicode"
)

// expr is a parsed OData $filter expression. Evaluation binds lambda
// variables in env.
type expr interface {
	eval(obj map[string]any, env map[string]any) bool
}

type andExpr struct{ l, r expr }
type orExpr struct{ l, r expr }
type notExpr struct{ e expr }

// cmpExpr is "prop op literal", or a function call such as
// startsWith(prop,'x') with op "startswith".
type cmpExpr struct {
	prop string
	op   string // eq ne gt ge lt le in startswith endswith
	vals []any
}

// lambdaExpr is "prop/any(v: body)" or "prop/all(v: body)".
type lambdaExpr struct {
	prop string
	all  bool
	v    string
	body expr
}

func (e andExpr) eval(o, env map[string]any) bool { return e.l.eval(o, env) && e.r.eval(o, env) }
func (e orExpr) eval(o, env map[string]any) bool  { return e.l.eval(o, env) || e.r.eval(o, env) }
func (e notExpr) eval(o, env map[string]any) bool { return !e.e.eval(o, env) }

func (e lambdaExpr) eval(o, env map[string]any) bool {
	coll, _ := lookup(o, env, e.prop).([]any)
	if coll == nil {
		if ss, ok := lookup(o, env, e.prop).([]string); ok {
			for _, s := range ss {
				coll = append(coll, s)
			}
		}
	}
	for _, el := range coll {
		inner := map[string]any{}
		for k, v := range env {
			inner[k] = v
		}
		inner[strings.ToLower(e.v)] = el
		ok := e.body.eval(o, inner)
		if e.all && !ok {
			return false
		}
		if !e.all && ok {
			return true
		}
	}
	return e.all
}

// lookup resolves "a/b/c" on obj, or on a lambda variable when the first
// part names one. Property names compare case-insensitively, as Graph's do.
func lookup(obj, env map[string]any, path string) any {
	parts := strings.Split(path, "/")
	var cur any = obj
	if v, ok := env[strings.ToLower(parts[0])]; ok {
		cur = v
		parts = parts[1:]
	}
	for _, p := range parts {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		v, ok := m[p]
		if !ok {
			for k, x := range m {
				if strings.EqualFold(k, p) {
					v, ok = x, true
					break
				}
			}
		}
		if !ok {
			return nil
		}
		cur = v
	}
	return cur
}

func (e cmpExpr) eval(o, env map[string]any) bool {
	got := lookup(o, env, e.prop)
	switch e.op {
	case "eq":
		return equalVal(got, e.vals[0])
	case "ne":
		return !equalVal(got, e.vals[0])
	case "in":
		for _, v := range e.vals {
			if equalVal(got, v) {
				return true
			}
		}
		return false
	case "startswith":
		gs, ok := got.(string)
		ws, _ := e.vals[0].(string)
		return ok && strings.HasPrefix(strings.ToLower(gs), strings.ToLower(ws))
	case "endswith":
		gs, ok := got.(string)
		ws, _ := e.vals[0].(string)
		return ok && strings.HasSuffix(strings.ToLower(gs), strings.ToLower(ws))
	case "gt", "ge", "lt", "le":
		c, ok := compareVal(got, e.vals[0])
		if !ok {
			return false
		}
		switch e.op {
		case "gt":
			return c > 0
		case "ge":
			return c >= 0
		case "lt":
			return c < 0
		default:
			return c <= 0
		}
	}
	return false
}

func equalVal(got, want any) bool {
	switch w := want.(type) {
	case nil:
		return got == nil
	case string:
		g, ok := got.(string)
		return ok && strings.EqualFold(g, w)
	case bool:
		g, ok := got.(bool)
		return ok && g == w
	case float64:
		g, ok := toFloat(got)
		return ok && g == w
	}
	return false
}

func compareVal(got, want any) (int, bool) {
	if ws, ok := want.(string); ok {
		gs, ok := got.(string)
		if !ok {
			return 0, false
		}
		return strings.Compare(strings.ToLower(gs), strings.ToLower(ws)), true
	}
	wf, ok1 := toFloat(want)
	gf, ok2 := toFloat(got)
	if !ok1 || !ok2 {
		return 0, false
	}
	switch {
	case gf < wf:
		return -1, true
	case gf > wf:
		return 1, true
	}
	return 0, true
}

func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case int64:
		return float64(x), true
	case int:
		return float64(x), true
	}
	return 0, false
}

// --- parsing ---

type tok struct {
	kind string // ident, string, number, punct, eof
	text string
	pos  int
}

func lexFilter(src string) ([]tok, error) {
	var out []tok
	i := 0
	for i < len(src) {
		c := rune(src[i])
		switch {
		case unicode.IsSpace(c):
			i++
		case c == '\'':
			var sb strings.Builder
			j := i + 1
			closed := false
			for j < len(src) {
				if src[j] == '\'' {
					if j+1 < len(src) && src[j+1] == '\'' {
						sb.WriteByte('\'')
						j += 2
						continue
					}
					closed = true
					j++
					break
				}
				sb.WriteByte(src[j])
				j++
			}
			if !closed {
				return nil, fmt.Errorf("unterminated string literal at position %d", i)
			}
			out = append(out, tok{"string", sb.String(), i})
			i = j
		case c == '(' || c == ')' || c == ',' || c == ':':
			out = append(out, tok{"punct", string(c), i})
			i++
		case c == '-' || unicode.IsDigit(c):
			j := i + 1
			for j < len(src) && (unicode.IsDigit(rune(src[j])) || src[j] == '.' || src[j] == '-' || src[j] == ':' || src[j] == 'T' || src[j] == 'Z') {
				j++
			}
			out = append(out, tok{"number", src[i:j], i})
			i = j
		case unicode.IsLetter(c) || c == '_' || c == '$' || c == '@':
			j := i + 1
			for j < len(src) && (unicode.IsLetter(rune(src[j])) || unicode.IsDigit(rune(src[j])) || strings.ContainsRune("_/.$@", rune(src[j]))) {
				j++
			}
			out = append(out, tok{"ident", src[i:j], i})
			i = j
		default:
			return nil, fmt.Errorf("syntax error at position %d", i)
		}
	}
	return append(out, tok{kind: "eof", pos: len(src)}), nil
}

type filterParser struct {
	toks []tok
	i    int
	src  string
}

func (p *filterParser) peek() tok { return p.toks[p.i] }
func (p *filterParser) next() tok { t := p.toks[p.i]; p.i++; return t }

func (p *filterParser) fail(t tok) error {
	return fmt.Errorf("syntax error at position %d in '%s'", t.pos, p.src)
}

func (p *filterParser) expect(text string) error {
	t := p.next()
	if t.kind != "punct" || t.text != text {
		return p.fail(t)
	}
	return nil
}

func isWord(t tok, w string) bool { return t.kind == "ident" && strings.EqualFold(t.text, w) }

// parseFilter parses a $filter value. Errors are Graph's 400 for a bad
// clause.
func parseFilter(src string) (expr, *apiError) {
	toks, err := lexFilter(src)
	if err != nil {
		return nil, errf(http.StatusBadRequest, CodeBadRequest, "Invalid filter clause: %v", err)
	}
	p := &filterParser{toks: toks, src: src}
	e, err := p.parseOr()
	if err == nil && p.peek().kind != "eof" {
		err = p.fail(p.peek())
	}
	if err != nil {
		return nil, errf(http.StatusBadRequest, CodeBadRequest, "Invalid filter clause: %v", err)
	}
	return e, nil
}

func (p *filterParser) parseOr() (expr, error) {
	l, err := p.parseAnd()
	if err != nil {
		return nil, err
	}
	for isWord(p.peek(), "or") {
		p.next()
		r, err := p.parseAnd()
		if err != nil {
			return nil, err
		}
		l = orExpr{l, r}
	}
	return l, nil
}

func (p *filterParser) parseAnd() (expr, error) {
	l, err := p.parseUnary()
	if err != nil {
		return nil, err
	}
	for isWord(p.peek(), "and") {
		p.next()
		r, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		l = andExpr{l, r}
	}
	return l, nil
}

func (p *filterParser) parseUnary() (expr, error) {
	if isWord(p.peek(), "not") {
		p.next()
		e, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		return notExpr{e}, nil
	}
	return p.parsePrimary()
}

func (p *filterParser) parseLiteral() (any, error) {
	t := p.next()
	switch t.kind {
	case "string":
		return t.text, nil
	case "number":
		if f, err := strconv.ParseFloat(t.text, 64); err == nil {
			return f, nil
		}
		// A bare DateTimeOffset or GUID literal compares as text.
		return t.text, nil
	case "ident":
		switch strings.ToLower(t.text) {
		case "true":
			return true, nil
		case "false":
			return false, nil
		case "null":
			return nil, nil
		}
	}
	return nil, p.fail(t)
}

func (p *filterParser) parsePrimary() (expr, error) {
	t := p.next()
	if t.kind == "punct" && t.text == "(" {
		e, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		return e, p.expect(")")
	}
	if t.kind != "ident" {
		return nil, p.fail(t)
	}
	name := t.text
	lower := strings.ToLower(name)
	if p.peek().kind == "punct" && p.peek().text == "(" {
		p.next()
		switch {
		case lower == "startswith" || lower == "endswith":
			prop := p.next()
			if prop.kind != "ident" {
				return nil, p.fail(prop)
			}
			if err := p.expect(","); err != nil {
				return nil, err
			}
			v, err := p.parseLiteral()
			if err != nil {
				return nil, err
			}
			return cmpExpr{prop: prop.text, op: lower, vals: []any{v}}, p.expect(")")
		case strings.HasSuffix(lower, "/any") || strings.HasSuffix(lower, "/all"):
			prop := name[:len(name)-4]
			v := p.next()
			if v.kind != "ident" {
				return nil, p.fail(v)
			}
			if err := p.expect(":"); err != nil {
				return nil, err
			}
			body, err := p.parseOr()
			if err != nil {
				return nil, err
			}
			return lambdaExpr{prop: prop, all: strings.HasSuffix(lower, "/all"), v: v.text, body: body}, p.expect(")")
		}
		return nil, fmt.Errorf("unknown function '%s' at position %d", name, t.pos)
	}
	opTok := p.next()
	op := strings.ToLower(opTok.text)
	if opTok.kind != "ident" {
		return nil, p.fail(opTok)
	}
	switch op {
	case "eq", "ne", "gt", "ge", "lt", "le":
		v, err := p.parseLiteral()
		if err != nil {
			return nil, err
		}
		return cmpExpr{prop: name, op: op, vals: []any{v}}, nil
	case "in":
		if err := p.expect("("); err != nil {
			return nil, err
		}
		var vals []any
		for {
			v, err := p.parseLiteral()
			if err != nil {
				return nil, err
			}
			vals = append(vals, v)
			n := p.next()
			if n.kind == "punct" && n.text == ")" {
				break
			}
			if n.kind != "punct" || n.text != "," {
				return nil, p.fail(n)
			}
		}
		return cmpExpr{prop: name, op: "in", vals: vals}, nil
	}
	return nil, p.fail(opTok)
}

// checkFilter rejects properties and operators spec does not allow, the
// way the directory does: an unfilterable property is
// Request_UnsupportedQuery naming it; an advanced-only operator without
// ConsistencyLevel: eventual + $count=true is Request_UnsupportedQuery.
func checkFilter(e expr, spec *resourceSpec, advanced bool) *apiError {
	if spec.filter == nil {
		return nil
	}
	var walk func(e expr, inLambda bool, negated bool) *apiError
	walk = func(e expr, inLambda, negated bool) *apiError {
		switch x := e.(type) {
		case andExpr:
			if err := walk(x.l, inLambda, negated); err != nil {
				return err
			}
			return walk(x.r, inLambda, negated)
		case orExpr:
			if err := walk(x.l, inLambda, negated); err != nil {
				return err
			}
			return walk(x.r, inLambda, negated)
		case notExpr:
			if !advanced {
				return unsupportedQuery()
			}
			return walk(x.e, inLambda, true)
		case lambdaExpr:
			if !inLambda {
				ops, ok := spec.filter[x.prop]
				if !ok || !strings.Contains(ops, "any") {
					return unsupportedFilterProp(x.prop, spec.resource)
				}
			}
			return walk(x.body, true, negated)
		case cmpExpr:
			if inLambda {
				return nil
			}
			ops, ok := spec.filter[x.prop]
			if !ok && strings.HasPrefix(x.prop, "extension_") {
				ops, ok = "eq,ne,in,startswith,ge,le", true
			}
			if !ok {
				return unsupportedFilterProp(x.prop, spec.resource)
			}
			// Some properties filter only as an advanced query; Graph then
			// names the property (learn.microsoft.com/answers/questions/577870).
			if rest, advOnly := strings.CutPrefix(ops, "adv:"); advOnly {
				if !advanced {
					return unsupportedFilterProp(x.prop, spec.resource)
				}
				ops = rest
			}
			if strings.Contains(","+spec.advancedOps+",", ","+x.op+",") {
				if !advanced {
					return unsupportedQuery()
				}
				return nil
			}
			if !strings.Contains(","+ops+",", ","+x.op+",") {
				return unsupportedFilterProp(x.prop, spec.resource)
			}
		}
		return nil
	}
	return walk(e, false, false)
}

func unsupportedFilterProp(prop, resource string) *apiError {
	return errf(http.StatusBadRequest, CodeUnsupportedQuery, "Unsupported or invalid query filter clause specified for property '%s' of resource '%s'.", prop, resource)
}

// unsupportedQuery is the directory's answer to an advanced query sent
// without ConsistencyLevel: eventual and $count=true.
func unsupportedQuery() *apiError {
	return errf(http.StatusBadRequest, CodeUnsupportedQuery, "Unsupported Query.")
}
