package infracheck

import (
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// This file works out what a deployment of infra/main.bicep would create,
// as far as that is knowable without Azure: literal values flow through
// parameters (the parameters file, module arguments, defaults), variables,
// loops, module outputs and resource names. Anything that only Azure knows
// (an account's endpoint, a generated id) stays unknown, and the checks
// only rely on what is known.

type vkind int

const (
	vUnknown vkind = iota
	vString
	vNumber
	vBool
	vNull
	vArray
	vObject
)

// value is what an expression evaluates to. at is where the literal was
// written, which is where a problem with the value should point.
type value struct {
	kind vkind
	s    string
	n    int64
	b    bool
	arr  []value
	obj  []field
	at   Pos
	why  string // for an unknown value: what could not be worked out
}

type field struct {
	key string
	v   value
}

func unknown(at Pos, format string, args ...any) value {
	return value{kind: vUnknown, at: at, why: fmt.Sprintf(format, args...)}
}

// field returns an object's property (unknown when absent or not an object).
func (v value) field(key string) value {
	if v.kind == vObject {
		for _, f := range v.obj {
			if f.key == key {
				return f.v
			}
		}
		return value{kind: vNull, at: v.at}
	}
	if v.kind == vUnknown {
		return v
	}
	return unknown(v.at, "%s has no property %s", v.describe(), key)
}

// text returns a string, number or bool as text, as an app setting holds it.
func (v value) text() (string, bool) {
	switch v.kind {
	case vString:
		return v.s, true
	case vNumber:
		return strconv.FormatInt(v.n, 10), true
	case vBool:
		return strconv.FormatBool(v.b), true
	}
	return "", false
}

func (v value) describe() string {
	switch v.kind {
	case vString:
		return strconv.Quote(v.s)
	case vNumber:
		return strconv.FormatInt(v.n, 10)
	case vBool:
		return strconv.FormatBool(v.b)
	case vNull:
		return "null"
	case vArray:
		return "an array"
	case vObject:
		return "an object"
	}
	return "unknown (" + v.why + ")"
}

// deployment is every parsed Bicep file and the module instances reachable
// from the root files.
type deployment struct {
	root     string // repository root on disk
	files    map[string]*bicepFile
	roots    []*instance
	problems []Problem // infra problems found while instantiating
}

// instance is one use of a Bicep file: the root deployment or one module
// call (one per loop item when the call's loop is known).
type instance struct {
	d        *deployment
	file     *bicepFile
	args     map[string]argument // module arguments, in the caller's context
	rootArgs map[string]value    // parameters file values (roots only)
	children map[string][]*instance
	vars     map[string]value
	busy     map[string]bool
}

type argument struct {
	caller *instance
	n      node
	env    map[string]value
}

func (d *deployment) problem(kind Kind, subject string, at Pos, format string, args ...any) {
	d.problems = append(d.problems, Problem{Kind: kind, Subject: subject, Pos: at, Detail: fmt.Sprintf(format, args...)})
}

// loadDeployment parses every .bicep file under infra/ and instantiates the
// top-level ones with their X.parameters.json.
func loadDeployment(root string) (*deployment, error) {
	d := &deployment{root: root, files: map[string]*bicepFile{}}
	paths, err := bicepFiles(root)
	if err != nil {
		return nil, err
	}
	for _, rel := range paths {
		src, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(rel)))
		if err != nil {
			return nil, err
		}
		f, err := parseBicep(rel, string(src))
		if err != nil {
			return nil, err
		}
		d.files[rel] = f
	}
	for _, rel := range paths {
		if path.Dir(rel) != infraDir {
			continue
		}
		inst := &instance{d: d, file: d.files[rel], rootArgs: map[string]value{}}
		if err := inst.readParameters(strings.TrimSuffix(rel, ".bicep") + ".parameters.json"); err != nil {
			return nil, err
		}
		d.roots = append(d.roots, inst)
		inst.instantiate(map[string]*bicepFile{rel: inst.file})
	}
	return d, nil
}

func (in *instance) readParameters(rel string) error {
	data, err := os.ReadFile(filepath.Join(in.d.root, filepath.FromSlash(rel)))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	lines, err := jsonLines(data)
	if err != nil {
		return fmt.Errorf("%s: %w", rel, err)
	}
	var doc struct {
		Parameters map[string]struct {
			Value any `json:"value"`
		} `json:"parameters"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("%s: %w", rel, err)
	}
	for name, p := range doc.Parameters {
		at := Pos{File: rel, Line: lines["parameters/"+name]}
		if _, ok := in.file.params[name]; !ok {
			in.d.problem(KindInfra, name, at, "%s sets parameter %s, which %s does not declare", rel, name, in.file.path)
			continue
		}
		in.rootArgs[name] = fromJSON(p.Value, at)
	}
	return nil
}

func fromJSON(x any, at Pos) value {
	switch x := x.(type) {
	case string:
		return value{kind: vString, s: x, at: at}
	case float64:
		return value{kind: vNumber, n: int64(x), at: at}
	case bool:
		return value{kind: vBool, b: x, at: at}
	case nil:
		return value{kind: vNull, at: at}
	case []any:
		v := value{kind: vArray, at: at}
		for _, e := range x {
			v.arr = append(v.arr, fromJSON(e, at))
		}
		return v
	case map[string]any:
		v := value{kind: vObject, at: at}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			v.obj = append(v.obj, field{key: k, v: fromJSON(x[k], at)})
		}
		return v
	}
	return unknown(at, "unsupported JSON value")
}

// instantiate creates the module instances of in, recursively; chain holds
// the files on the way here, to refuse a module cycle.
func (in *instance) instantiate(chain map[string]*bicepFile) {
	in.children = map[string][]*instance{}
	for _, m := range in.file.modules {
		at := Pos{File: in.file.path, Line: m.line}
		rel := path.Clean(path.Join(path.Dir(in.file.path), m.path))
		f := in.d.files[rel]
		if f == nil {
			in.d.problem(KindInfra, m.sym, at, "module %s uses %s, which is not a Bicep file under %s", m.sym, m.path, infraDir)
			continue
		}
		if chain[rel] != nil {
			in.d.problem(KindInfra, m.sym, at, "module %s makes a cycle through %s", m.sym, rel)
			continue
		}
		for _, e := range in.expand(m.body, nil) {
			child := &instance{d: in.d, file: f, args: map[string]argument{}}
			if pv, ok := e.obj.get("params").(*objNode); ok {
				for _, p := range pv.props {
					if _, declared := f.params[p.key]; !declared {
						in.d.problem(KindInfra, m.sym+"."+p.key, Pos{File: in.file.path, Line: p.line},
							"module %s passes %s, which %s does not declare", m.sym, p.key, rel)
						continue
					}
					child.args[p.key] = argument{caller: in, n: p.value, env: e.env}
				}
			}
			for _, name := range sortedKeys(f.params) {
				if _, given := child.args[name]; !given && f.params[name].def == nil {
					in.d.problem(KindInfra, m.sym+"."+name, at, "module %s does not pass %s, which %s requires", m.sym, name, rel)
				}
			}
			next := map[string]*bicepFile{rel: f}
			for k, v := range chain {
				next[k] = v
			}
			child.instantiate(next)
			in.children[m.sym] = append(in.children[m.sym], child)
		}
	}
}

// expansion is one concrete copy of a declaration body: its object and the
// loop variables in scope.
type expansion struct {
	obj *objNode
	env map[string]value
}

// expand unrolls a declaration body: a loop over a known array gives one
// copy per item, a condition known to be false gives none.
func (in *instance) expand(body node, env map[string]value) []expansion {
	switch b := body.(type) {
	case *objNode:
		return []expansion{{obj: b, env: env}}
	case *ifNode:
		if c := in.eval(b.cond, env); c.kind == vBool && !c.b {
			return nil
		}
		return in.expand(b.body, env)
	case *forNode:
		src := in.eval(b.source, env)
		if src.kind != vArray {
			// Unknown items: one copy whose loop variable is unknown.
			return in.expand(b.body, with(env, b.item, unknown(src.at, "loop over %s", src.describe()), b.index, unknown(src.at, "loop index")))
		}
		var out []expansion
		for i, item := range src.arr {
			out = append(out, in.expand(b.body, with(env, b.item, item, b.index, value{kind: vNumber, n: int64(i), at: item.at}))...)
		}
		return out
	}
	return nil
}

func with(env map[string]value, k1 string, v1 value, k2 string, v2 value) map[string]value {
	out := make(map[string]value, len(env)+2)
	for k, v := range env {
		out[k] = v
	}
	out[k1] = v1
	if k2 != "" {
		out[k2] = v2
	}
	return out
}

func (in *instance) pos(n node) Pos { return Pos{File: in.file.path, Line: n.nodeLine()} }

// eval evaluates n in this instance with the loop variables env.
func (in *instance) eval(n node, env map[string]value) value {
	at := in.pos(n)
	switch n := n.(type) {
	case *strNode:
		var b strings.Builder
		for i, part := range n.parts {
			b.WriteString(part)
			if i < len(n.holes) {
				h := in.eval(n.holes[i], env)
				s, ok := h.text()
				if !ok {
					return unknown(at, "string with %s inside", h.describe())
				}
				b.WriteString(s)
			}
		}
		return value{kind: vString, s: b.String(), at: at}
	case *numNode:
		return value{kind: vNumber, n: n.n, at: at}
	case *boolNode:
		return value{kind: vBool, b: n.b, at: at}
	case *nullNode:
		return value{kind: vNull, at: at}
	case *arrNode:
		v := value{kind: vArray, at: at}
		for _, item := range n.items {
			v.arr = append(v.arr, in.eval(item, env))
		}
		return v
	case *objNode:
		v := value{kind: vObject, at: at}
		for _, p := range n.props {
			v.obj = append(v.obj, field{key: p.key, v: in.eval(p.value, env)})
		}
		return v
	case *forNode:
		src := in.eval(n.source, env)
		if src.kind != vArray {
			return unknown(at, "loop over %s", src.describe())
		}
		v := value{kind: vArray, at: at}
		for i, item := range src.arr {
			v.arr = append(v.arr, in.eval(n.body, with(env, n.item, item, n.index, value{kind: vNumber, n: int64(i)})))
		}
		return v
	case *refNode:
		return in.ref(n, env)
	case *callNode:
		return in.call(n, env)
	}
	return unknown(at, "an expression only Azure can evaluate")
}

func (in *instance) call(n *callNode, env map[string]value) value {
	at := in.pos(n)
	if len(n.args) == 1 {
		a := in.eval(n.args[0], env)
		switch n.name {
		case "string":
			if s, ok := a.text(); ok {
				return value{kind: vString, s: s, at: a.at}
			}
		case "int":
			if a.kind == vNumber {
				return a
			}
			if i, err := strconv.ParseInt(a.s, 10, 64); a.kind == vString && err == nil {
				return value{kind: vNumber, n: i, at: a.at}
			}
		case "toLower", "toUpper":
			if a.kind == vString {
				if n.name == "toLower" {
					a.s = strings.ToLower(a.s)
				} else {
					a.s = strings.ToUpper(a.s)
				}
				return a
			}
		}
	}
	return unknown(at, "%s(…)", n.name)
}

func (in *instance) ref(n *refNode, env map[string]value) value {
	at := in.pos(n)
	head, rest := n.path[0], n.path[1:]
	var v value
	switch {
	case env != nil && hasKey(env, head):
		v = env[head]
	case in.file.params[head] != nil:
		v = in.param(head)
	case in.file.vars[head] != nil:
		v = in.variable(head)
	case in.file.resource(head) != nil:
		r := in.file.resource(head)
		if len(rest) == 1 && rest[0] == "name" {
			exps := in.expand(r.body, env)
			if len(exps) != 1 || exps[0].obj.get("name") == nil {
				return unknown(at, "the name of %s", head)
			}
			return in.eval(exps[0].obj.get("name"), exps[0].env)
		}
		return unknown(at, "%s, known only once deployed", strings.Join(n.path, "."))
	case in.file.module(head) != nil:
		kids := in.children[head]
		if len(rest) < 2 || rest[0] != "outputs" || len(kids) != 1 {
			return unknown(at, "%s", strings.Join(n.path, "."))
		}
		out := kids[0].file.outputs[rest[1]]
		if out == nil {
			return unknown(at, "%s declares no output %s", kids[0].file.path, rest[1])
		}
		v = kids[0].eval(out.expr, nil)
		rest = rest[2:]
	default:
		return unknown(at, "%s is not declared here", head)
	}
	for _, k := range rest {
		v = v.field(k)
	}
	return v
}

func hasKey(m map[string]value, k string) bool {
	_, ok := m[k]
	return ok
}

// param is a parameter's value: the module argument or parameters file
// value, else the default.
func (in *instance) param(name string) value {
	if b, ok := in.args[name]; ok {
		return b.caller.eval(b.n, b.env)
	}
	if v, ok := in.rootArgs[name]; ok {
		return v
	}
	p := in.file.params[name]
	if p.def != nil {
		return in.eval(p.def, nil)
	}
	return unknown(Pos{File: in.file.path, Line: p.line}, "parameter %s has no value", name)
}

func (in *instance) variable(name string) value {
	if v, ok := in.vars[name]; ok {
		return v
	}
	if in.busy[name] {
		return unknown(Pos{File: in.file.path, Line: in.file.varLines[name]}, "variable %s refers to itself", name)
	}
	if in.busy == nil {
		in.busy, in.vars = map[string]bool{}, map[string]value{}
	}
	in.busy[name] = true
	v := in.eval(in.file.vars[name], nil)
	delete(in.busy, name)
	in.vars[name] = v
	return v
}

// all returns every instance, roots first, in a stable order.
func (d *deployment) all() []*instance {
	var out []*instance
	var walk func(*instance)
	walk = func(in *instance) {
		out = append(out, in)
		for _, sym := range sortedKeys(in.children) {
			for _, c := range in.children[sym] {
				walk(c)
			}
		}
	}
	for _, r := range d.roots {
		walk(r)
	}
	return out
}

// deployed is one resource a deployment creates.
type deployed struct {
	inst *instance
	decl *resourceDecl
	expansion
}

func (r deployed) prop(keys ...string) value {
	var n node = r.obj
	v := r.inst.eval(n, r.env)
	for _, k := range keys {
		v = v.field(k)
	}
	return v
}

func (r deployed) pos() Pos { return Pos{File: r.inst.file.path, Line: r.obj.line} }

// resources lists what every instance deploys (existing references left
// out), nested resources once per copy of their parent.
func (d *deployment) resources() []deployed {
	var out []deployed
	for _, in := range d.all() {
		var visit func(r *resourceDecl, env map[string]value)
		visit = func(r *resourceDecl, env map[string]value) {
			for _, e := range in.expand(r.body, env) {
				if !r.existing {
					out = append(out, deployed{inst: in, decl: r, expansion: e})
				}
				for _, child := range e.obj.nested {
					visit(child, e.env)
				}
			}
		}
		for _, r := range in.file.resources {
			if r.parent == nil {
				visit(r, nil)
			}
		}
	}
	return out
}

// moduleOutputRefs finds `sym.outputs.name` for every module symbol of f,
// inside strings too, so a missing output is caught without the Bicep CLI.
func moduleOutputRefs(f *bicepFile) []struct {
	sym, name string
	line      int
} {
	var out []struct {
		sym, name string
		line      int
	}
	var scan func(toks []token)
	scan = func(toks []token) {
		for i, t := range toks {
			for _, h := range t.holes {
				scan(h)
			}
			if t.kind == tokIdent && f.module(t.text) != nil && i+4 < len(toks) &&
				toks[i+1].is(tokPunct, ".") && toks[i+2].is(tokIdent, "outputs") &&
				toks[i+3].is(tokPunct, ".") && toks[i+4].kind == tokIdent {
				out = append(out, struct {
					sym, name string
					line      int
				}{t.text, toks[i+4].text, t.line})
			}
		}
	}
	scan(f.toks)
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
