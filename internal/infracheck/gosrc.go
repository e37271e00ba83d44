package infracheck

import (
	"fmt"
	"go/ast"
	goparser "go/parser"
	gotoken "go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// settingRead is one place the Go code reads a setting by a name fixed at
// compile time.
type settingRead struct {
	Name string
	Pos  Pos
}

// goReads finds the settings the code reads: the name argument of
// config.Lookup and config.LookupInt, and of any getenv, Getenv, LookupEnv
// (os.Getenv included) call, when that argument is a string literal or a
// constant of internal/config. Dynamic names (a variable, a computed
// string) are not the code's fixed settings and are skipped.
func goReads(root string, files []string) ([]settingRead, error) {
	modPath, err := modulePath(root)
	if err != nil {
		return nil, err
	}
	configPath := modPath + "/internal/config"
	fset := gotoken.NewFileSet()
	parsed := map[string]*ast.File{}
	for _, rel := range files {
		f, err := goparser.ParseFile(fset, filepath.Join(root, filepath.FromSlash(rel)), nil, goparser.SkipObjectResolution)
		if err != nil {
			return nil, err
		}
		parsed[rel] = f
	}
	consts := configConsts(parsed, configPath)

	var reads []settingRead
	for _, rel := range files {
		f := parsed[rel]
		inConfig := isConfigFile(rel)
		configName := importName(f, configPath)
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			arg := -1
			switch fun := call.Fun.(type) {
			case *ast.SelectorExpr:
				x, _ := fun.X.(*ast.Ident)
				switch {
				case x != nil && configName != "" && x.Name == configName && (fun.Sel.Name == "Lookup" || fun.Sel.Name == "LookupInt"):
					arg = 1
				case envReader(fun.Sel.Name):
					arg = 0
				}
			case *ast.Ident:
				if envReader(fun.Name) {
					arg = 0
				}
			}
			if arg < 0 || arg >= len(call.Args) {
				return true
			}
			name, ok := constantName(call.Args[arg], configName, inConfig, consts)
			if ok {
				p := fset.Position(call.Args[arg].Pos())
				reads = append(reads, settingRead{Name: name, Pos: Pos{File: rel, Line: p.Line}})
			}
			return true
		})
	}
	return reads, nil
}

func envReader(name string) bool {
	switch name {
	case "getenv", "Getenv", "LookupEnv", "lookupEnv":
		return true
	}
	return false
}

func isConfigFile(rel string) bool { return strings.HasPrefix(rel, "internal/config/") }

// constantName resolves a call argument to a setting name: a string
// literal, config.X outside package config, or X inside it.
func constantName(e ast.Expr, configName string, inConfig bool, consts map[string]string) (string, bool) {
	switch e := e.(type) {
	case *ast.BasicLit:
		if e.Kind == gotoken.STRING {
			s, err := strconv.Unquote(e.Value)
			return s, err == nil
		}
	case *ast.SelectorExpr:
		if x, ok := e.X.(*ast.Ident); ok && configName != "" && x.Name == configName {
			s, ok := consts[e.Sel.Name]
			return s, ok
		}
	case *ast.Ident:
		if inConfig {
			s, ok := consts[e.Name]
			return s, ok
		}
	}
	return "", false
}

// configConsts collects the string constants of package config.
func configConsts(parsed map[string]*ast.File, configPath string) map[string]string {
	consts := map[string]string{}
	for rel, f := range parsed {
		if !isConfigFile(rel) {
			continue
		}
		for _, decl := range f.Decls {
			g, ok := decl.(*ast.GenDecl)
			if !ok || g.Tok != gotoken.CONST {
				continue
			}
			for _, spec := range g.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, name := range vs.Names {
					if i >= len(vs.Values) {
						continue
					}
					if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == gotoken.STRING {
						if s, err := strconv.Unquote(lit.Value); err == nil {
							consts[name.Name] = s
						}
					}
				}
			}
		}
	}
	return consts
}

// importName is the name a file uses for the package at path, or "".
func importName(f *ast.File, path string) string {
	for _, imp := range f.Imports {
		p, err := strconv.Unquote(imp.Path.Value)
		if err != nil || p != path {
			continue
		}
		if imp.Name != nil {
			return imp.Name.Name
		}
		return path[strings.LastIndex(path, "/")+1:]
	}
	return ""
}

func modulePath(root string) (string, error) {
	data, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "module "); ok {
			return strings.Trim(strings.TrimSpace(rest), `"`), nil
		}
	}
	return "", fmt.Errorf("go.mod: no module line")
}
