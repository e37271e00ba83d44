// Package devhost is a local stand-in for the Azure Functions host, for
// `rostersync dev`, the demo and the end-to-end tests. Like `func start` it
// reads host.json and functions/*/function.json, fires timer triggers on
// their NCRONTAB schedules, delivers queue messages to the custom handler in
// the host's envelope with peek-lock semantics (the in-memory broker stands
// in for Service Bus), and forwards /api/ requests to the handler after
// checking the function key. It talks to the handler over HTTP on loopback,
// exactly as the real host does.
package devhost

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// Binding is the part of a function.json binding the local host uses.
type Binding struct {
	Name              string   `json:"name"`
	Type              string   `json:"type"`
	Direction         string   `json:"direction"`
	Schedule          string   `json:"schedule"`
	RunOnStartup      bool     `json:"runOnStartup"`
	QueueName         string   `json:"queueName"`
	Connection        string   `json:"connection"`
	IsSessionsEnabled bool     `json:"isSessionsEnabled"`
	AuthLevel         string   `json:"authLevel"`
	Methods           []string `json:"methods"`
	Route             string   `json:"route"`
}

// Function is one function folder.
type Function struct {
	Name     string
	Bindings []Binding
}

// Trigger returns the function's trigger binding.
func (f Function) Trigger() (Binding, bool) {
	for _, b := range f.Bindings {
		if b.Direction == "in" && strings.HasSuffix(b.Type, "Trigger") {
			return b, true
		}
	}
	return Binding{}, false
}

// validate refuses a function the host would not load
// (FunctionMetadataManager and the binding providers): more than one
// trigger, two bindings with one name, a direction other than in, out or
// inout, an authLevel or HTTP method the HTTP extension does not know, a
// Service Bus trigger without a connection or entity.
func (f Function) validate() error {
	triggers := 0
	names := map[string]bool{}
	for _, b := range f.Bindings {
		if b.Name == "" || b.Type == "" {
			return fmt.Errorf("a binding without name or type")
		}
		if names[strings.ToLower(b.Name)] {
			return fmt.Errorf("binding name %q is used twice", b.Name)
		}
		names[strings.ToLower(b.Name)] = true
		switch b.Direction {
		case "in", "out", "inout":
		default:
			return fmt.Errorf("binding %q: direction %q", b.Name, b.Direction)
		}
		if strings.HasSuffix(b.Type, "Trigger") {
			triggers++
		}
		switch b.Type {
		case "httpTrigger":
			switch strings.ToLower(b.AuthLevel) {
			case "", "anonymous", "function", "admin":
			default:
				return fmt.Errorf("binding %q: authLevel %q (want anonymous, function or admin)", b.Name, b.AuthLevel)
			}
			for _, m := range b.Methods {
				switch strings.ToUpper(m) {
				case "GET", "POST", "PUT", "DELETE", "HEAD", "PATCH", "OPTIONS", "TRACE":
				default:
					return fmt.Errorf("binding %q: HTTP method %q", b.Name, m)
				}
			}
		case "serviceBusTrigger":
			if b.Connection == "" || b.QueueName == "" {
				return fmt.Errorf("binding %q: a Service Bus queue trigger needs connection and queueName", b.Name)
			}
		}
	}
	if triggers != 1 {
		return fmt.Errorf("%d trigger bindings: a function has exactly one", triggers)
	}
	return nil
}

// functionName is what the host accepts as a function folder name.
var functionName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]{0,127}$`)

// LoadFunctions reads every <dir>/<Name>/function.json, sorted by name.
func LoadFunctions(dir string) ([]Function, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*", "function.json"))
	if err != nil {
		return nil, fmt.Errorf("find functions in %s: %w", dir, err)
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("no */function.json under %s", dir)
	}
	sort.Strings(paths)
	fns := make([]Function, 0, len(paths))
	for _, p := range paths {
		name := filepath.Base(filepath.Dir(p))
		if !functionName.MatchString(name) {
			return nil, fmt.Errorf("%s: %q is not a valid function name", p, name)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", p, err)
		}
		var fj struct {
			Bindings []Binding `json:"bindings"`
		}
		if err := json.Unmarshal(b, &fj); err != nil {
			return nil, fmt.Errorf("parse %s: %w", p, err)
		}
		f := Function{Name: name, Bindings: fj.Bindings}
		if _, ok := f.Trigger(); !ok {
			return nil, fmt.Errorf("%s: no trigger binding", p)
		}
		if err := f.validate(); err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		fns = append(fns, f)
	}
	return fns, nil
}

// HostConfig is the part of host.json the local host uses.
type HostConfig struct {
	Version       string `json:"version"`
	CustomHandler *struct {
		Description struct {
			DefaultExecutablePath string   `json:"defaultExecutablePath"`
			Arguments             []string `json:"arguments"`
		} `json:"description"`
		EnableForwardingHTTPRequest bool `json:"enableForwardingHttpRequest"`
		EnableProxyingHTTPRequest   bool `json:"enableProxyingHttpRequest"`
	} `json:"customHandler"`
	FunctionTimeout string `json:"functionTimeout"`
	Extensions      struct {
		HTTP struct {
			RoutePrefix *string `json:"routePrefix"`
		} `json:"http"`
		ServiceBus struct {
			MaxConcurrentCalls    int    `json:"maxConcurrentCalls"`
			MaxConcurrentSessions int    `json:"maxConcurrentSessions"`
			SessionIdleTimeout    string `json:"sessionIdleTimeout"`
		} `json:"serviceBus"`
	} `json:"extensions"`
}

// LoadHostConfig reads host.json.
func LoadHostConfig(path string) (HostConfig, error) {
	var hc HostConfig
	b, err := os.ReadFile(path)
	if err != nil {
		return hc, fmt.Errorf("read host config: %w", err)
	}
	if err := json.Unmarshal(b, &hc); err != nil {
		return hc, fmt.Errorf("parse %s: %w", path, err)
	}
	if err := hc.validate(); err != nil {
		return hc, fmt.Errorf("%s: %w", path, err)
	}
	return hc, nil
}

// validate refuses what the host refuses at start: a version other than
// "2.0" (azure-functions-host HostJsonFileConfigurationSource: "missing the
// required 'version' property", "is an invalid value for host.json
// 'version' property"), a custom handler without an executable
// (HttpWorkerDescription), a functionTimeout or sessionIdleTimeout that is
// not a time span.
func (hc HostConfig) validate() error {
	if hc.Version != "2.0" {
		return fmt.Errorf("version is %q: the host requires \"2.0\"", hc.Version)
	}
	if hc.CustomHandler == nil {
		return fmt.Errorf("no customHandler section: the local host runs custom handlers only")
	}
	if hc.CustomHandler.Description.DefaultExecutablePath == "" {
		return fmt.Errorf("customHandler.description.defaultExecutablePath is empty")
	}
	if hc.FunctionTimeout != "" && hc.FunctionTimeout != "-1" {
		if d, err := parseTimeSpan(hc.FunctionTimeout); err != nil || d <= 0 {
			return fmt.Errorf("functionTimeout %q: want a positive hh:mm:ss (or -1)", hc.FunctionTimeout)
		}
	}
	if s := hc.Extensions.ServiceBus.SessionIdleTimeout; s != "" {
		if _, err := parseTimeSpan(s); err != nil {
			return fmt.Errorf("extensions.serviceBus.sessionIdleTimeout: %w", err)
		}
	}
	return nil
}

// Proxying reports whether HTTP-only functions are proxied
// (enableProxyingHttpRequest) rather than forwarded
// (enableForwardingHttpRequest); the host checks proxying first
// (DefaultHttpWorkerService.InvokeAsync).
func (hc HostConfig) Proxying() bool {
	return hc.CustomHandler != nil && hc.CustomHandler.EnableProxyingHTTPRequest
}

// RoutePrefix is extensions.http.routePrefix, "api" when unset.
func (hc HostConfig) RoutePrefix() string {
	if p := hc.Extensions.HTTP.RoutePrefix; p != nil {
		return *p
	}
	return "api"
}

var settingRef = regexp.MustCompile(`%([A-Za-z0-9_]+)%`)

// ResolveSettings replaces %Name% with app settings, as the host does in
// binding expressions; an unset setting is an error, not an empty string.
func ResolveSettings(s string, getenv func(string) string) (string, error) {
	var missing []string
	out := settingRef.ReplaceAllStringFunc(s, func(m string) string {
		name := m[1 : len(m)-1]
		v := getenv(name)
		if v == "" {
			missing = append(missing, name)
		}
		return v
	})
	if len(missing) > 0 {
		return "", fmt.Errorf("%q refers to unset app setting(s) %s", s, strings.Join(missing, ", "))
	}
	return out, nil
}
