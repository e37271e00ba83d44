package infracheck

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/rostersync/rostersync/internal/config"
)

// checkConsent keeps the admin-consent callback in step: it is the one
// anonymous HTTP function (a browser lands on it, so it can carry no
// function key, and nothing else may be reachable without one), it serves
// GET on config.ConsentCallbackRoute (the route the handler serves), and
// infra registers that path as the app registration's redirect URI.
func (c *checker) checkConsent() {
	route := strings.Trim(config.ConsentCallbackRoute, "/")
	served := false
	for _, doc := range c.functions {
		list, _ := doc.data["bindings"].([]any)
		for i, x := range list {
			m, _ := x.(map[string]any)
			if typ, _ := m["type"].(string); typ != "httpTrigger" {
				continue
			}
			fn := filepath.Base(filepath.Dir(doc.path))
			name, _ := m["name"].(string)
			auth, _ := m["authLevel"].(string)
			r, _ := m["route"].(string)
			r = strings.Trim(r, "/")
			at := doc.pos("bindings/" + strconv.Itoa(i))
			anon := strings.EqualFold(auth, "anonymous")
			isCallback := strings.EqualFold(r, route)
			switch {
			case anon && !isCallback:
				c.add(KindBinding, fn+"/"+name, at, "HTTP function %s is anonymous, but only the consent callback (route %q) may be reached without a function key", fn, route)
			case !anon && isCallback:
				c.add(KindBinding, fn+"/"+name, at, "the consent callback (route %q) must be anonymous: the admin's browser comes back from Microsoft with no function key", route)
			case anon && isCallback:
				if !allowsGet(m["methods"]) {
					c.add(KindBinding, fn+"/"+name, at, "the consent callback must accept GET: the identity platform redirects the browser")
					continue
				}
				served = true
			}
		}
	}
	if !served {
		c.add(KindBinding, route, Pos{File: functionsDir}, "no anonymous HTTP function serves GET %s, where the handler serves the admin-consent callback (config.ConsentCallbackRoute)", route)
	}
	path := "/" + c.routePrefix() + "/" + route
	infra, err := bicepFiles(c.root)
	if err != nil {
		return
	}
	for _, rel := range infra {
		b, err := os.ReadFile(filepath.Join(c.root, filepath.FromSlash(rel)))
		if err == nil && strings.Contains(string(b), path+"'") {
			return
		}
	}
	c.add(KindInfra, path, Pos{File: infraDir + "/main.bicep"}, "no redirect URI in infra ends with %s, the consent callback's path: admin consent would return to a URI the app registration does not list", path)
}

// routePrefix is host.json's extensions.http.routePrefix, "api" when unset.
func (c *checker) routePrefix() string {
	if ext, ok := c.host.data["extensions"].(map[string]any); ok {
		if h, ok := ext["http"].(map[string]any); ok {
			if p, ok := h["routePrefix"].(string); ok {
				return strings.Trim(p, "/")
			}
		}
	}
	return "api"
}

func allowsGet(methods any) bool {
	list, ok := methods.([]any)
	if !ok || len(list) == 0 {
		return true // no methods: every method
	}
	for _, m := range list {
		if s, _ := m.(string); strings.EqualFold(s, "get") {
			return true
		}
	}
	return false
}
