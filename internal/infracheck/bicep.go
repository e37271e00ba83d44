package infracheck

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
)

// This file is a scanner and parser for the part of Bicep the files in
// infra/ use: declarations (param, var, resource, module, output), object,
// array and for-expressions, strings with interpolation, and references.
// Anything else inside an expression (operators, ternaries, indexing) is
// kept as an opaque run of tokens, which is enough to skip it correctly and
// to find the references inside it. It is not a Bicep parser: it exists so
// that a test can read names and a few properties without the Bicep CLI.

// ErrSyntax is wrapped by every error for Bicep this package cannot read.
var ErrSyntax = errors.New("unsupported or malformed Bicep")

// SyntaxError locates a Bicep syntax problem.
type SyntaxError struct {
	File string
	Line int
	Msg  string
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg) }

// Unwrap lets callers match ErrSyntax.
func (e *SyntaxError) Unwrap() error { return ErrSyntax }

type tokKind int

const (
	tokEOF tokKind = iota
	tokNewline
	tokIdent
	tokNumber
	tokString
	tokPunct
)

// token is one lexical token. A string keeps its literal chunks and the
// tokens of each ${…} hole: parts has one more element than holes.
type token struct {
	kind  tokKind
	text  string // identifier, number or punctuation
	line  int
	parts []string
	holes [][]token
}

func (t token) is(kind tokKind, text string) bool { return t.kind == kind && t.text == text }

type lexer struct {
	file string
	src  []rune
	i    int
	line int
}

func lex(file string, src string) ([]token, error) {
	l := &lexer{file: file, src: []rune(src), line: 1}
	toks, err := l.tokens(false)
	if err != nil {
		return nil, err
	}
	return append(toks, token{kind: tokEOF, line: l.line}), nil
}

func (l *lexer) errorf(format string, args ...any) error {
	return &SyntaxError{File: l.file, Line: l.line, Msg: fmt.Sprintf(format, args...)}
}

func (l *lexer) peek(off int) rune {
	if l.i+off < len(l.src) {
		return l.src[l.i+off]
	}
	return 0
}

// tokens lexes until the end of input or, inside a string hole, the '}'
// that closes it.
func (l *lexer) tokens(inHole bool) ([]token, error) {
	var out []token
	depth := 0
	for l.i < len(l.src) {
		c := l.src[l.i]
		switch {
		case c == '\n':
			out = append(out, token{kind: tokNewline, line: l.line})
			l.line++
			l.i++
		case c == ' ' || c == '\t' || c == '\r':
			l.i++
		case c == '/' && l.peek(1) == '/':
			for l.i < len(l.src) && l.src[l.i] != '\n' {
				l.i++
			}
		case c == '/' && l.peek(1) == '*':
			start := l.line
			l.i += 2
			for l.i < len(l.src) && !(l.src[l.i] == '*' && l.peek(1) == '/') {
				if l.src[l.i] == '\n' {
					l.line++
				}
				l.i++
			}
			if l.i >= len(l.src) {
				l.line = start
				return nil, l.errorf("unterminated comment")
			}
			l.i += 2
		case c == '\'':
			t, err := l.str()
			if err != nil {
				return nil, err
			}
			out = append(out, t)
		case unicode.IsDigit(c):
			start := l.i
			for l.i < len(l.src) && unicode.IsDigit(l.src[l.i]) {
				l.i++
			}
			out = append(out, token{kind: tokNumber, text: string(l.src[start:l.i]), line: l.line})
		case c == '_' || unicode.IsLetter(c):
			start := l.i
			for l.i < len(l.src) && (l.src[l.i] == '_' || unicode.IsLetter(l.src[l.i]) || unicode.IsDigit(l.src[l.i])) {
				l.i++
			}
			out = append(out, token{kind: tokIdent, text: string(l.src[start:l.i]), line: l.line})
		case strings.ContainsRune("{}[](),:.?!=@<>+-*/%&|", c):
			if inHole && c == '}' && depth == 0 {
				return out, nil
			}
			switch c {
			case '{':
				depth++
			case '}':
				depth--
			}
			out = append(out, token{kind: tokPunct, text: string(c), line: l.line})
			l.i++
		default:
			return nil, l.errorf("unexpected character %q", c)
		}
	}
	if inHole {
		return nil, l.errorf("unterminated ${ in string")
	}
	return out, nil
}

// str lexes a string starting at the opening quote.
func (l *lexer) str() (token, error) {
	t := token{kind: tokString, line: l.line}
	if l.peek(1) == '\'' && l.peek(2) == '\'' {
		// '''multi-line''': no escapes, no interpolation.
		l.i += 3
		start := l.i
		for l.i < len(l.src) && !(l.src[l.i] == '\'' && l.peek(1) == '\'' && l.peek(2) == '\'') {
			if l.src[l.i] == '\n' {
				l.line++
			}
			l.i++
		}
		if l.i >= len(l.src) {
			return t, l.errorf("unterminated ''' string")
		}
		t.parts = []string{string(l.src[start:l.i])}
		l.i += 3
		return t, nil
	}
	l.i++
	var b strings.Builder
	for {
		if l.i >= len(l.src) || l.src[l.i] == '\n' {
			return t, l.errorf("unterminated string")
		}
		c := l.src[l.i]
		switch {
		case c == '\'':
			l.i++
			t.parts = append(t.parts, b.String())
			return t, nil
		case c == '\\':
			esc := l.peek(1)
			switch esc {
			case '\'', '\\', '$':
				b.WriteRune(esc)
			case 'n':
				b.WriteRune('\n')
			case 'r':
				b.WriteRune('\r')
			case 't':
				b.WriteRune('\t')
			default:
				return t, l.errorf("unsupported escape \\%c", esc)
			}
			l.i += 2
		case c == '$' && l.peek(1) == '{':
			l.i += 2
			t.parts = append(t.parts, b.String())
			b.Reset()
			hole, err := l.tokens(true)
			if err != nil {
				return t, err
			}
			l.i++ // the closing '}'
			t.holes = append(t.holes, hole)
		default:
			b.WriteRune(c)
			l.i++
		}
	}
}

// Syntax tree. Every node knows its line.

type node interface{ nodeLine() int }

type strNode struct {
	line  int
	parts []string
	holes []node
}

type numNode struct {
	line int
	n    int64
}

type boolNode struct {
	line int
	b    bool
}

type nullNode struct{ line int }

// refNode is a dotted reference such as syncQueueName or
// storage.outputs.name.
type refNode struct {
	line int
	path []string
}

type callNode struct {
	line int
	name string
	args []node
}

type prop struct {
	key   string
	line  int
	value node
}

type objNode struct {
	line   int
	props  []prop
	nested []*resourceDecl // resource declarations inside a resource body
}

type arrNode struct {
	line  int
	items []node
}

// forNode is [for item in source: body] (or [for (item, i) in …]).
type forNode struct {
	line   int
	item   string
	index  string
	source node
	body   node
}

// ifNode is a conditional resource or module body: if (cond) { … }.
type ifNode struct {
	line int
	cond node
	body node
}

// opaqueNode is an expression this parser does not model; its tokens are
// kept so references inside it can still be found.
type opaqueNode struct {
	line int
	toks []token
}

func (n *strNode) nodeLine() int    { return n.line }
func (n *numNode) nodeLine() int    { return n.line }
func (n *boolNode) nodeLine() int   { return n.line }
func (n *nullNode) nodeLine() int   { return n.line }
func (n *refNode) nodeLine() int    { return n.line }
func (n *callNode) nodeLine() int   { return n.line }
func (n *objNode) nodeLine() int    { return n.line }
func (n *arrNode) nodeLine() int    { return n.line }
func (n *forNode) nodeLine() int    { return n.line }
func (n *ifNode) nodeLine() int     { return n.line }
func (n *opaqueNode) nodeLine() int { return n.line }

// get returns the value of an object property, or nil.
func (n *objNode) get(key string) node {
	for _, p := range n.props {
		if p.key == key {
			return p.value
		}
	}
	return nil
}

type paramDecl struct {
	name string
	line int
	def  node // nil when required
}

type resourceDecl struct {
	sym      string
	typ      string // as written: full, or a child type inside a parent's body
	version  string
	existing bool
	line     int
	body     node // *objNode, or *forNode / *ifNode around one
	parent   *resourceDecl
}

type moduleDecl struct {
	sym  string
	path string
	line int
	body node
}

type outputDecl struct {
	name string
	line int
	expr node
}

// bicepFile is one parsed .bicep file.
type bicepFile struct {
	path      string // relative to the repository root, slash-separated
	params    map[string]*paramDecl
	vars      map[string]node
	varLines  map[string]int
	resources []*resourceDecl // every declaration, nested ones included
	modules   []*moduleDecl
	outputs   map[string]*outputDecl
	// toks is every token, for scans that look for a pattern anywhere.
	toks []token
}

// resource returns the resource declared with symbol sym, or nil.
func (f *bicepFile) resource(sym string) *resourceDecl {
	for _, r := range f.resources {
		if r.sym == sym {
			return r
		}
	}
	return nil
}

// module returns the module declared with symbol sym, or nil.
func (f *bicepFile) module(sym string) *moduleDecl {
	for _, m := range f.modules {
		if m.sym == sym {
			return m
		}
	}
	return nil
}

// fullType is the resource type with its parents' types prefixed, e.g.
// Microsoft.Web/sites/config for a 'config' resource inside a site.
func (r *resourceDecl) fullType() string {
	if r.parent != nil && !strings.Contains(r.typ, "/") {
		return r.parent.fullType() + "/" + r.typ
	}
	return r.typ
}

type parser struct {
	file string
	toks []token
	i    int
}

func parseBicep(path, src string) (*bicepFile, error) {
	toks, err := lex(path, src)
	if err != nil {
		return nil, err
	}
	p := &parser{file: path, toks: toks}
	f := &bicepFile{path: path, params: map[string]*paramDecl{}, vars: map[string]node{},
		varLines: map[string]int{}, outputs: map[string]*outputDecl{}, toks: toks}
	if err := p.file1(f); err != nil {
		return nil, err
	}
	return f, nil
}

func (p *parser) tok() token { return p.toks[p.i] }

func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tokEOF {
		p.i++
	}
	return t
}

func (p *parser) errorf(format string, args ...any) error {
	return &SyntaxError{File: p.file, Line: p.tok().line, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) skipNewlines() {
	for p.tok().kind == tokNewline {
		p.i++
	}
}

func (p *parser) expectPunct(s string) error {
	if !p.tok().is(tokPunct, s) {
		return p.errorf("want %q, found %s", s, describe(p.tok()))
	}
	p.i++
	return nil
}

func (p *parser) ident() (string, error) {
	t := p.tok()
	if t.kind != tokIdent {
		return "", p.errorf("want a name, found %s", describe(t))
	}
	p.i++
	return t.text, nil
}

// plainString reads a string without interpolation, such as a resource type.
func (p *parser) plainString() (string, error) {
	t := p.tok()
	if t.kind != tokString || len(t.holes) > 0 {
		return "", p.errorf("want a plain string, found %s", describe(t))
	}
	p.i++
	return t.parts[0], nil
}

func describe(t token) string {
	switch t.kind {
	case tokEOF:
		return "end of file"
	case tokNewline:
		return "end of line"
	case tokString:
		return "a string"
	}
	return fmt.Sprintf("%q", t.text)
}

// skipLine skips to the end of the line, over balanced brackets.
func (p *parser) skipLine() {
	depth := 0
	for {
		t := p.tok()
		if t.kind == tokEOF || (t.kind == tokNewline && depth == 0) {
			return
		}
		if t.kind == tokPunct {
			switch t.text {
			case "{", "[", "(":
				depth++
			case "}", "]", ")":
				depth--
			}
		}
		p.i++
	}
}

func (p *parser) file1(f *bicepFile) error {
	for {
		p.skipNewlines()
		t := p.tok()
		if t.kind == tokEOF {
			return nil
		}
		if t.is(tokPunct, "@") {
			// Decorators constrain values; nothing here needs them.
			p.skipDecorator()
			continue
		}
		if t.kind != tokIdent {
			return p.errorf("want a declaration, found %s", describe(t))
		}
		switch t.text {
		case "targetScope", "extension", "import", "metadata", "type", "func":
			p.skipLine()
		case "param":
			p.i++
			name, err := p.ident()
			if err != nil {
				return err
			}
			d := &paramDecl{name: name, line: t.line}
			// The type runs to '=' or the end of the line.
			for !p.tok().is(tokPunct, "=") && p.tok().kind != tokNewline && p.tok().kind != tokEOF {
				p.i++
			}
			if p.tok().is(tokPunct, "=") {
				p.i++
				if d.def, err = p.expr(); err != nil {
					return err
				}
			}
			f.params[name] = d
		case "var":
			p.i++
			name, err := p.ident()
			if err != nil {
				return err
			}
			if err := p.expectPunct("="); err != nil {
				return err
			}
			v, err := p.expr()
			if err != nil {
				return err
			}
			f.vars[name], f.varLines[name] = v, t.line
		case "resource":
			if _, err := p.resource(f, nil); err != nil {
				return err
			}
		case "module":
			p.i++
			sym, err := p.ident()
			if err != nil {
				return err
			}
			path, err := p.plainString()
			if err != nil {
				return err
			}
			if err := p.expectPunct("="); err != nil {
				return err
			}
			body, err := p.body(f, nil)
			if err != nil {
				return err
			}
			f.modules = append(f.modules, &moduleDecl{sym: sym, path: path, line: t.line, body: body})
		case "output":
			p.i++
			name, err := p.ident()
			if err != nil {
				return err
			}
			for !p.tok().is(tokPunct, "=") && p.tok().kind != tokNewline && p.tok().kind != tokEOF {
				p.i++
			}
			if err := p.expectPunct("="); err != nil {
				return err
			}
			e, err := p.expr()
			if err != nil {
				return err
			}
			f.outputs[name] = &outputDecl{name: name, line: t.line, expr: e}
		default:
			return p.errorf("want a declaration, found %q", t.text)
		}
	}
}

func (p *parser) skipDecorator() {
	p.i++ // '@'
	for p.tok().kind == tokIdent || p.tok().is(tokPunct, ".") {
		p.i++
	}
	if p.tok().is(tokPunct, "(") {
		depth := 0
		for {
			t := p.next()
			if t.kind == tokEOF {
				return
			}
			if t.is(tokPunct, "(") {
				depth++
			} else if t.is(tokPunct, ")") {
				depth--
				if depth == 0 {
					return
				}
			}
		}
	}
}

// resource parses `resource sym 'type@version' [existing] = body`; the
// current token is the keyword.
func (p *parser) resource(f *bicepFile, parent *resourceDecl) (*resourceDecl, error) {
	line := p.next().line
	sym, err := p.ident()
	if err != nil {
		return nil, err
	}
	typ, err := p.plainString()
	if err != nil {
		return nil, err
	}
	r := &resourceDecl{sym: sym, line: line, parent: parent}
	r.typ, r.version, _ = strings.Cut(typ, "@")
	if p.tok().is(tokIdent, "existing") {
		r.existing = true
		p.i++
	}
	if err := p.expectPunct("="); err != nil {
		return nil, err
	}
	f.resources = append(f.resources, r)
	if r.body, err = p.body(f, r); err != nil {
		return nil, err
	}
	return r, nil
}

// body parses a declaration body: an object, `if (cond) object`, or a
// for-expression around either.
func (p *parser) body(f *bicepFile, owner *resourceDecl) (node, error) {
	t := p.tok()
	switch {
	case t.is(tokIdent, "if"):
		p.i++
		if err := p.expectPunct("("); err != nil {
			return nil, err
		}
		cond, err := p.expr()
		if err != nil {
			return nil, err
		}
		if err := p.expectPunct(")"); err != nil {
			return nil, err
		}
		b, err := p.body(f, owner)
		if err != nil {
			return nil, err
		}
		return &ifNode{line: t.line, cond: cond, body: b}, nil
	case t.is(tokPunct, "{"):
		return p.object(f, owner)
	case t.is(tokPunct, "[") && p.toks[p.i+1].is(tokIdent, "for"):
		return p.forExpr(f, owner, true)
	}
	return nil, p.errorf("want a declaration body, found %s", describe(t))
}

// expr parses one expression. A literal, object, array, for-expression,
// reference or call that ends where the expression ends becomes its node;
// anything longer (operators, ternaries, indexing, …) becomes opaque.
func (p *parser) expr() (node, error) {
	start := p.i
	n, err := p.primary()
	if err != nil {
		return nil, err
	}
	if n != nil && p.atEnd() {
		return n, nil
	}
	p.i = start
	return p.opaque()
}

// atEnd reports whether the current token ends an expression.
func (p *parser) atEnd() bool {
	t := p.tok()
	switch t.kind {
	case tokEOF, tokNewline:
		return true
	case tokPunct:
		switch t.text {
		case ",", ")", "]", "}":
			return true
		}
	}
	return false
}

func (p *parser) opaque() (node, error) {
	n := &opaqueNode{line: p.tok().line}
	depth := 0
	for {
		t := p.tok()
		if depth == 0 && p.atEnd() {
			break
		}
		if t.kind == tokEOF {
			return nil, p.errorf("unbalanced brackets")
		}
		if t.kind == tokPunct {
			switch t.text {
			case "{", "[", "(":
				depth++
			case "}", "]", ")":
				depth--
			}
		}
		n.toks = append(n.toks, t)
		p.i++
	}
	if len(n.toks) == 0 {
		return nil, p.errorf("want an expression, found %s", describe(p.tok()))
	}
	return n, nil
}

// primary returns nil (and no error) for a start it does not model.
func (p *parser) primary() (node, error) {
	t := p.tok()
	switch t.kind {
	case tokString:
		p.i++
		s := &strNode{line: t.line, parts: t.parts}
		for _, hole := range t.holes {
			sub := &parser{file: p.file, toks: append(append([]token(nil), hole...), token{kind: tokEOF, line: t.line})}
			h, err := sub.expr()
			if err != nil {
				return nil, err
			}
			s.holes = append(s.holes, h)
		}
		return s, nil
	case tokNumber:
		p.i++
		var n int64
		if _, err := fmt.Sscan(t.text, &n); err != nil {
			return nil, p.errorf("bad number %q", t.text)
		}
		return &numNode{line: t.line, n: n}, nil
	case tokIdent:
		switch t.text {
		case "true", "false":
			p.i++
			return &boolNode{line: t.line, b: t.text == "true"}, nil
		case "null":
			p.i++
			return &nullNode{line: t.line}, nil
		}
		path := []string{t.text}
		p.i++
		for p.tok().is(tokPunct, ".") && p.toks[p.i+1].kind == tokIdent {
			path = append(path, p.toks[p.i+1].text)
			p.i += 2
		}
		if !p.tok().is(tokPunct, "(") {
			return &refNode{line: t.line, path: path}, nil
		}
		p.i++
		c := &callNode{line: t.line, name: strings.Join(path, ".")}
		for {
			p.skipNewlines()
			if p.tok().is(tokPunct, ")") {
				p.i++
				return c, nil
			}
			a, err := p.expr()
			if err != nil {
				return nil, err
			}
			c.args = append(c.args, a)
			p.skipNewlines()
			if p.tok().is(tokPunct, ",") {
				p.i++
			}
		}
	case tokPunct:
		switch t.text {
		case "{":
			return p.object(nil, nil)
		case "[":
			if p.toks[p.i+1].is(tokIdent, "for") {
				return p.forExpr(nil, nil, false)
			}
			return p.array()
		}
	}
	return nil, nil
}

// object parses { key: value … }. Inside a resource body (owner non-nil) it
// also takes nested resource declarations.
func (p *parser) object(f *bicepFile, owner *resourceDecl) (*objNode, error) {
	o := &objNode{line: p.next().line}
	for {
		p.skipNewlines()
		t := p.tok()
		switch {
		case t.is(tokPunct, "}"):
			p.i++
			return o, nil
		case t.is(tokPunct, ","):
			p.i++
			continue
		case t.is(tokPunct, "@"):
			p.skipDecorator()
			continue
		case t.is(tokIdent, "resource") && owner != nil && p.toks[p.i+1].kind == tokIdent:
			r, err := p.resource(f, owner)
			if err != nil {
				return nil, err
			}
			o.nested = append(o.nested, r)
			continue
		}
		var key string
		switch {
		case t.kind == tokIdent:
			key = t.text
		case t.kind == tokString && len(t.holes) == 0:
			key = t.parts[0]
		case t.kind == tokString:
			// A computed key such as '${identityId}': keep its place.
			key = "${}"
		default:
			return nil, p.errorf("want a property name, found %s", describe(t))
		}
		p.i++
		if err := p.expectPunct(":"); err != nil {
			return nil, err
		}
		v, err := p.expr()
		if err != nil {
			return nil, err
		}
		o.props = append(o.props, prop{key: key, line: t.line, value: v})
	}
}

func (p *parser) array() (*arrNode, error) {
	a := &arrNode{line: p.next().line}
	for {
		p.skipNewlines()
		t := p.tok()
		switch {
		case t.is(tokPunct, "]"):
			p.i++
			return a, nil
		case t.is(tokPunct, ","):
			p.i++
			continue
		}
		v, err := p.expr()
		if err != nil {
			return nil, err
		}
		a.items = append(a.items, v)
	}
}

// forExpr parses [for item in source: body]. As a declaration body
// (decl true) the body may be a resource or module body.
func (p *parser) forExpr(f *bicepFile, owner *resourceDecl, decl bool) (*forNode, error) {
	n := &forNode{line: p.next().line}
	p.i++ // 'for'
	var err error
	if p.tok().is(tokPunct, "(") {
		p.i++
		if n.item, err = p.ident(); err != nil {
			return nil, err
		}
		if err := p.expectPunct(","); err != nil {
			return nil, err
		}
		if n.index, err = p.ident(); err != nil {
			return nil, err
		}
		if err := p.expectPunct(")"); err != nil {
			return nil, err
		}
	} else if n.item, err = p.ident(); err != nil {
		return nil, err
	}
	if !p.tok().is(tokIdent, "in") {
		return nil, p.errorf("want 'in', found %s", describe(p.tok()))
	}
	p.i++
	// The source ends at the ':' before the body, which expr would take as
	// part of an opaque run; read a primary and require the ':'.
	start := p.i
	src, err := p.primary()
	if err != nil {
		return nil, err
	}
	if src == nil || !p.tok().is(tokPunct, ":") {
		p.i = start
		o := &opaqueNode{line: p.tok().line}
		depth := 0
		for !(depth == 0 && p.tok().is(tokPunct, ":")) {
			t := p.tok()
			if t.kind == tokEOF {
				return nil, p.errorf("unterminated for-expression")
			}
			if t.kind == tokPunct {
				switch t.text {
				case "{", "[", "(":
					depth++
				case "}", "]", ")":
					depth--
				}
			}
			o.toks = append(o.toks, t)
			p.i++
		}
		src = o
	}
	n.source = src
	if err := p.expectPunct(":"); err != nil {
		return nil, err
	}
	if decl {
		n.body, err = p.body(f, owner)
	} else {
		n.body, err = p.expr()
	}
	if err != nil {
		return nil, err
	}
	p.skipNewlines()
	if err := p.expectPunct("]"); err != nil {
		return nil, err
	}
	return n, nil
}
