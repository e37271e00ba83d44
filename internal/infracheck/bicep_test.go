package infracheck

import (
	"errors"
	"testing"
)

// evalFixture is a small deployment using the syntax the scanner must get
// through: decorators, comments, multi-line and interpolated strings,
// ternaries, conditions, loops, nested and existing resources, module
// arguments and outputs.
const evalMain = `targetScope = 'resourceGroup'

/* A block comment
   over lines. */
@description('names')
param names array
param prefix string = 'pre'
@allowed([
  'a'
  'b'
])
param pick string = 'a'

var greeting = '''
multi
line'''
var picked = pick == 'a' ? 'first' : 'second' // opaque: a ternary
var settings = {
  Name: '${prefix}-${pick}'
  Indexed: names[0] // opaque: indexing
  Count: string(3)
  Lower: toLower('MiXeD')
}

resource parentRes 'Microsoft.Example/things@2024-01-01' = {
  name: '${prefix}-thing'
  properties: {
    mode: picked
  }
  resource child 'parts@2024-01-01' = [for n in names: {
    name: n
  }]
}

resource gone 'Microsoft.Example/things@2024-01-01' = if (false) {
  name: 'never'
}

resource old 'Microsoft.Example/things@2024-01-01' existing = {
  name: 'old'
}

module mod 'modules/mod.bicep' = {
  name: 'mod'
  params: {
    label: settings.Name
  }
}

output fromModule string = mod.outputs.echo
output greeting string = greeting
`

const evalModule = `param label string
param unused int = 1

resource item 'Microsoft.Example/items@2024-01-01' = {
  name: label
}

output echo string = item.name
`

func TestEvaluate(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "infra/main.bicep", evalMain)
	write(t, dir, "infra/modules/mod.bicep", evalModule)
	write(t, dir, "infra/main.parameters.json", `{"parameters": {"names": {"value": ["x", "y"]}}}`)
	d, err := loadDeployment(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.problems) > 0 {
		t.Fatalf("problems: %v", d.problems)
	}
	got := map[string][]string{}
	for _, r := range d.resources() {
		name := r.prop("name")
		got[r.decl.fullType()] = append(got[r.decl.fullType()], name.describe())
	}
	want := map[string][]string{
		"Microsoft.Example/things":       {`"pre-thing"`},
		"Microsoft.Example/things/parts": {`"x"`, `"y"`},
		"Microsoft.Example/items":        {`"pre-a"`},
	}
	if len(got) != len(want) {
		t.Errorf("resources = %v, want %v", got, want)
	}
	for typ, names := range want {
		if len(got[typ]) != len(names) {
			t.Errorf("%s: names %v, want %v", typ, got[typ], names)
			continue
		}
		for i := range names {
			if got[typ][i] != names[i] {
				t.Errorf("%s: names %v, want %v", typ, got[typ], names)
			}
		}
	}

	root := d.roots[0]
	for _, tt := range []struct {
		expr string
		want string
	}{
		{"settings.Count", `"3"`},
		{"settings.Lower", `"mixed"`},
		{"greeting", `"\nmulti\nline"`},
		{"picked", "unknown"},
		{"settings.Indexed", "unknown"},
	} {
		v := root.ref(&refNode{path: splitDots(tt.expr), line: 1}, nil)
		if got := v.describe(); got != tt.want && !(tt.want == "unknown" && v.kind == vUnknown) {
			t.Errorf("%s = %s, want %s", tt.expr, got, tt.want)
		}
	}
	if v := root.eval(root.file.outputs["fromModule"].expr, nil); v.describe() != `"pre-a"` {
		t.Errorf("mod.outputs.echo = %s, want \"pre-a\"", v.describe())
	}
}

func splitDots(s string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == '.' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return out
}

func TestSyntaxErrors(t *testing.T) {
	tests := []struct {
		name, src string
		line      int
	}{
		{"unterminated string", "var a = 'x\nvar b = 1\n", 1},
		{"unterminated comment", "var a = 1\n/* open\n", 2},
		{"unknown declaration", "var a = 1\n\nthing b = 2\n", 3},
		{"missing =", "var a 1\n", 1},
		{"unbalanced", "var a = {\n  b: (1\n}\n", 4}, // found at the end of the file
		{"bad escape", "var a = 'x\\q'\n", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseBicep("x.bicep", tt.src)
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("parseBicep = %v, want a *SyntaxError", err)
			}
			if se.Line != tt.line || se.File != "x.bicep" {
				t.Errorf("error at %s:%d, want x.bicep:%d (%v)", se.File, se.Line, tt.line, err)
			}
		})
	}
}

func TestModuleArguments(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "infra/main.bicep", "module m 'modules/m.bicep' = {\n  name: 'm'\n  params: {\n    extra: 1\n  }\n}\nmodule gone 'modules/none.bicep' = {\n  name: 'g'\n}\n")
	write(t, dir, "infra/modules/m.bicep", "param needed string\n")
	d, err := loadDeployment(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"m.extra": 4, "m.needed": 1, "gone": 7}
	if len(d.problems) != len(want) {
		t.Errorf("problems %v, want subjects %v", d.problems, want)
	}
	for _, p := range d.problems {
		if line, ok := want[p.Subject]; !ok || p.Pos.Line != line || p.Kind != KindInfra {
			t.Errorf("unexpected problem %s", p)
		}
	}
}

func TestJSONLines(t *testing.T) {
	lines, err := jsonLines([]byte("{\n  \"a\": 1,\n  \"b\": [\n    {\"c\": \"x\"},\n    2\n  ]\n}\n"))
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]int{"": 1, "a": 2, "b": 3, "b/0": 4, "b/0/c": 4, "b/1": 5} {
		if lines[path] != want {
			t.Errorf("line of %q = %d, want %d", path, lines[path], want)
		}
	}
	if _, err := jsonLines([]byte("{\n\"a\": ,\n}")); err == nil {
		t.Error("jsonLines accepted broken JSON")
	}
}
