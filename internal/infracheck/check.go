// Package infracheck checks that the places naming rostersync's deployed
// resources agree: the infrastructure (infra/*.bicep and its parameters
// file), the Functions definitions (functions/*/function.json, host.json),
// local.settings.json.example, and the code (config.Settings, state.Tables
// and the settings the Go sources read). A queue, table, connection prefix
// or app setting named in one place and missing from another is an outage
// waiting for a deploy; Check finds it without Azure, the Bicep CLI or the
// network.
//
// What it compares:
//
//   - Queues: every Service Bus trigger's queue, resolved through its
//     %Setting% in the infra app settings and in the example file, is a queue
//     infra creates, and both resolve to the same name; every queue infra
//     creates is used. The queue's requiresSession equals the binding's
//     isSessionsEnabled, duplicate detection is on, and maxDeliveryCount
//     equals the <Queue>MaxDeliveryCount setting the code reads.
//   - Tables: infra creates exactly state.Tables.
//   - Containers: infra creates every blob container the code names
//     (state.BlobContainer for plan bodies, tenant.DropContainer for roster
//     drops).
//   - Connection prefixes: each trigger's connection has identity-based
//     settings (__fullyQualifiedNamespace, __credential, __clientId) in the
//     infra app settings and is in the example file.
//   - App settings: config.Settings, the example file, the infra app
//     settings and the names the code reads agree, except settings that are
//     deliberately local-only (localOnly, with the reason for each).
//   - Roles: each identity-based setting comes with the role assignment the
//     identity needs for it, on the right kind of resource.
//   - Bicep that no linter checks here: module arguments and outputs exist,
//     the parameters file sets declared parameters.
package infracheck

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/rostersync/rostersync/internal/config"
	"github.com/rostersync/rostersync/internal/state"
	"github.com/rostersync/rostersync/internal/tenant"
)

// Kind says what a problem is about.
type Kind string

// Kinds of problem.
const (
	KindQueue      Kind = "queue"      // a queue named in one place is missing from another
	KindTable      Kind = "table"      // infra's tables differ from state.Tables
	KindContainer  Kind = "container"  // a blob container the code names is not created by infra
	KindConnection Kind = "connection" // a binding's connection prefix is not configured
	KindSetting    Kind = "setting"    // an app setting is missing somewhere, or set where it must not be
	KindSession    Kind = "session"    // a binding's isSessionsEnabled and its queue's requiresSession differ
	KindBinding    Kind = "binding"    // a binding infracheck cannot vouch for
	KindRole       Kind = "role"       // the identity lacks a role a setting needs
	KindValue      Kind = "value"      // a setting or property has a value that breaks the app
	KindInfra      Kind = "infra"      // the Bicep itself is inconsistent or unreadable here
	KindProperty   Kind = "property"   // host.json or function.json has a key the host does not read
)

// Pos is a place in the repository. Line is 0 when only the file is known.
type Pos struct {
	File string // relative to the repository root, slash-separated
	Line int
}

func (p Pos) String() string {
	if p.Line == 0 {
		return p.File
	}
	return fmt.Sprintf("%s:%d", p.File, p.Line)
}

// Problem is one disagreement. Kind and Subject identify it; Detail
// explains it for people and names the other places involved.
type Problem struct {
	Kind    Kind
	Subject string // the queue, table, prefix, setting, role … concerned
	Pos     Pos    // where to look first
	Detail  string
}

func (p Problem) String() string {
	return fmt.Sprintf("%s: %s %s: %s", p.Pos, p.Kind, p.Subject, p.Detail)
}

// Options replace what Check compares against. Nil means the code's own.
type Options struct {
	// Settings replaces config.Settings.
	Settings []config.Setting
	// Tables replaces state.Tables.
	Tables []string
	// Containers replaces the blob containers the code names.
	Containers []string
}

// Paths Check reads, relative to the repository root.
const (
	infraDir     = "infra"
	functionsDir = "functions"
	hostJSON     = "host.json"
	exampleFile  = "local.settings.json.example"
	functionJSON = "function.json"
)

// localOnly are settings of config.Settings that must not be set in Azure,
// and why. Every other setting must be in the infra app settings, so a new
// setting forces a decision here or in infra.
var localOnly = map[string]string{
	config.WorkerRuntime:         "Flex Consumption rejects it; functionAppConfig.runtime says custom",
	config.CustomHandlerPort:     "the Functions host sets it for the handler",
	config.WebJobsStorage:        "it is a connection string with a key; Azure uses AzureWebJobsStorage__accountName with the identity, and shared keys are off",
	config.TablesConnection:      "it is a connection string with a key; Azure uses TablesEndpoint with the identity",
	config.BlobsConnection:       "it is a connection string with a key; Azure uses BlobsEndpoint with the identity",
	config.StateDir:              "the embedded store is for local runs; Azure uses Table Storage",
	config.ServiceBusConnString:  "it is a connection string with a key, and the namespace has local auth off",
	config.SecretsDir:            "local secrets; Azure uses KeyVaultUri",
	config.GraphStaticToken:      "only the local Graph simulator accepts it, and federated mode refuses it",
	config.GraphClientSecretName: "secret and certificate modes only; Azure runs federated, with no secret",
	config.APIKey:                "the local host's stand-in for function keys; in Azure the host checks them",
	config.LocalMode:             "it allows plain http to loopback roster sources and CSV feeds from the host's disk",
	config.CsvRoot:               "CSV feeds on the host's disk are read in local mode only; Azure reads feeds from storage",
}

// requiredHost are settings the Functions host needs in Azure that the
// code never reads, so config.Settings does not list them.
var requiredHost = map[string]string{
	"AzureWebJobsStorage__accountName":          "the host's storage, by identity (shared keys are off)",
	"AzureWebJobsStorage__credential":           "the host's storage, by identity",
	"AzureWebJobsStorage__clientId":             "which identity the host's storage connection uses",
	"APPLICATIONINSIGHTS_CONNECTION_STRING":     "where the host sends telemetry",
	"APPLICATIONINSIGHTS_AUTHENTICATION_STRING": "telemetry by identity (local auth is off)",
}

// hostRead are settings of config.Settings the Functions host (or Core
// Tools) reads rather than the code; binding connection prefixes and
// %Setting% references are added per check.
var hostRead = map[string]string{
	config.WorkerRuntime:  "Core Tools reads it to run a custom handler locally",
	config.WebJobsStorage: "the host's storage in local runs",
}

// hostProvided are names the code reads that are not app settings, and why.
var hostProvided = map[string]string{
	"FUNCTIONS_HTTPWORKER_PORT": "the older name of FUNCTIONS_CUSTOMHANDLER_PORT, set by the Functions host",
	// Test support (internal/state/blobstore/blobtest), never read by the
	// product: whether Azurite tests must run rather than skip.
	"CI":                         "set by CI runners; the Azurite test helpers fail instead of skipping under it",
	"ROSTERSYNC_REQUIRE_AZURITE": "set by make test; the Azurite test helpers fail instead of skipping under it",
	// Test support (internal/report/reporttest): which browser the report's
	// browser test drives.
	"CHROME_PATH": "set by whoever runs the browser tests, when Chromium is not on PATH",
	// The CLI's terminal, not a setting of the service.
	"TERM": "set by the user's terminal; rostersync sync draws no progress bar on a dumb one",
}

// requiredValues are app settings whose value in Azure is fixed.
var requiredValues = map[string]string{
	config.GraphAuthMode: "federated",
}

// Role definition ids (shared/research/azure.md section 7).
const (
	roleBlobDataOwner        = "b7e6dc6d-f1e8-4753-8033-0f276bb0955b"
	roleTableDataContributor = "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3"
	roleServiceBusReceiver   = "4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0"
	roleServiceBusSender     = "69a216fc-b8fb-44d8-bc22-1f3c2cd27a39"
	roleKeyVaultSecretsUser  = "4633458b-17de-408a-b874-0445c86b69e6"
	roleMetricsPublisher     = "3913510d-42f4-4e42-8a64-420c390055eb"
)

var roleNames = map[string]string{
	roleBlobDataOwner:        "Storage Blob Data Owner",
	roleTableDataContributor: "Storage Table Data Contributor",
	roleServiceBusReceiver:   "Azure Service Bus Data Receiver",
	roleServiceBusSender:     "Azure Service Bus Data Sender",
	roleKeyVaultSecretsUser:  "Key Vault Secrets User",
	roleMetricsPublisher:     "Monitoring Metrics Publisher",
}

// Resource types the checks read.
const (
	typeQueue          = "Microsoft.ServiceBus/namespaces/queues"
	typeTable          = "Microsoft.Storage/storageAccounts/tableServices/tables"
	typeContainer      = "Microsoft.Storage/storageAccounts/blobServices/containers"
	typeSite           = "Microsoft.Web/sites"
	typeSiteConfig     = "Microsoft.Web/sites/config"
	typeRoleAssignment = "Microsoft.Authorization/roleAssignments"
)

// Files lists, relative to root, every file Check reads: the Bicep files
// and parameters files under infra/, host.json, functions/*/function.json,
// local.settings.json.example, go.mod and the non-test Go sources.
func Files(root string) ([]string, error) {
	out := []string{"go.mod", hostJSON, exampleFile}
	infra, err := bicepFiles(root)
	if err != nil {
		return nil, err
	}
	out = append(out, infra...)
	params, err := filepath.Glob(filepath.Join(root, infraDir, "*.parameters.json"))
	if err != nil {
		return nil, err
	}
	for _, p := range params {
		out = append(out, infraDir+"/"+filepath.Base(p))
	}
	fns, err := functionFiles(root)
	if err != nil {
		return nil, err
	}
	out = append(out, fns...)
	gos, err := goFiles(root)
	if err != nil {
		return nil, err
	}
	return append(out, gos...), nil
}

func bicepFiles(root string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(filepath.Join(root, infraDir), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, ".bicep") {
			rel, err := filepath.Rel(root, p)
			if err != nil {
				return err
			}
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	sort.Strings(out)
	return out, err
}

func functionFiles(root string) ([]string, error) {
	matches, err := filepath.Glob(filepath.Join(root, functionsDir, "*", functionJSON))
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(matches))
	for _, m := range matches {
		out = append(out, functionsDir+"/"+filepath.Base(filepath.Dir(m))+"/"+functionJSON)
	}
	sort.Strings(out)
	return out, nil
}

// goFiles lists the non-test Go sources, leaving out folders that hold no
// product code (dependencies, build output, test data, hidden folders).
func goFiles(root string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if p != root && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") ||
				name == "node_modules" || name == "vendor" || name == "testdata" || name == "dist" || name == "bin") {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(name, ".go") && !strings.HasSuffix(name, "_test.go") {
			rel, err := filepath.Rel(root, p)
			if err != nil {
				return err
			}
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	sort.Strings(out)
	return out, err
}

// jsonDoc is a parsed JSON file with the line of every value.
type jsonDoc struct {
	path  string
	data  map[string]any
	lines map[string]int
}

func (d *jsonDoc) pos(key string) Pos { return Pos{File: d.path, Line: d.lines[key]} }

func readJSON(root, rel string) (*jsonDoc, error) {
	data, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(rel)))
	if err != nil {
		return nil, err
	}
	lines, err := jsonLines(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", rel, err)
	}
	d := &jsonDoc{path: rel, lines: lines}
	if err := json.Unmarshal(data, &d.data); err != nil {
		return nil, fmt.Errorf("%s: %w", rel, err)
	}
	return d, nil
}

// binding is one entry of a function.json's bindings.
type binding struct {
	fn, file   string
	index      int
	name, typ  string
	queueName  string
	topicName  string
	connection string
	sessions   bool
	autoSet    bool // autoCompleteMessages is present
	auto       bool
	doc        *jsonDoc
}

func (b binding) pos(key string) Pos {
	k := fmt.Sprintf("bindings/%d", b.index)
	if _, ok := b.doc.lines[k+"/"+key]; ok {
		k += "/" + key
	}
	return b.doc.pos(k)
}

func (b binding) label() string { return fmt.Sprintf("%s binding %q", b.fn, b.name) }

// appSetting is one setting the infra gives the function app.
type appSetting struct {
	v   value
	pos Pos
}

// checker holds everything read, and collects problems.
type checker struct {
	root       string
	settings   []config.Setting
	tables     []string
	containers []string

	example    *jsonDoc
	exampleVal map[string]string
	host       *jsonDoc
	functions  []*jsonDoc
	bindings   []binding
	dep        *deployment
	resources  []deployed
	app        map[string]appSetting // nil when infra has no app settings
	appPos     Pos
	reads      []settingRead

	problems []Problem
}

func (c *checker) add(kind Kind, subject string, at Pos, format string, args ...any) {
	c.problems = append(c.problems, Problem{Kind: kind, Subject: subject, Pos: at, Detail: fmt.Sprintf(format, args...)})
}

// Check reads the repository at root and returns every disagreement it
// finds, ordered by file and line. The error is for files it cannot read
// or parse (a *SyntaxError for Bicep), not for disagreements.
func Check(root string, opts *Options) ([]Problem, error) {
	c := &checker{root: root, settings: config.Settings, tables: state.Tables,
		containers: []string{state.BlobContainer, tenant.DropContainer}}
	if opts != nil && opts.Settings != nil {
		c.settings = opts.Settings
	}
	if opts != nil && opts.Tables != nil {
		c.tables = opts.Tables
	}
	if opts != nil && opts.Containers != nil {
		c.containers = opts.Containers
	}
	if err := c.load(); err != nil {
		return nil, err
	}
	c.checkSettings()
	c.checkReferences()
	c.checkBindings()
	c.checkConsent()
	c.checkProperties()
	c.checkTables()
	c.checkContainers()
	c.checkRoles()
	c.checkRuntime()
	c.checkModules()
	c.problems = append(c.problems, c.dep.problems...)
	sort.SliceStable(c.problems, func(i, j int) bool {
		a, b := c.problems[i], c.problems[j]
		if a.Pos.File != b.Pos.File {
			return a.Pos.File < b.Pos.File
		}
		if a.Pos.Line != b.Pos.Line {
			return a.Pos.Line < b.Pos.Line
		}
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		return a.Subject < b.Subject
	})
	return c.problems, nil
}

func (c *checker) load() error {
	var err error
	if c.example, err = readJSON(c.root, exampleFile); err != nil {
		return err
	}
	c.exampleVal = map[string]string{}
	values, _ := c.example.data["Values"].(map[string]any)
	for k, v := range values {
		s, _ := v.(string)
		c.exampleVal[k] = s
	}
	if c.host, err = readJSON(c.root, hostJSON); err != nil {
		return err
	}
	fns, err := functionFiles(c.root)
	if err != nil {
		return err
	}
	for _, rel := range fns {
		doc, err := readJSON(c.root, rel)
		if err != nil {
			return err
		}
		c.functions = append(c.functions, doc)
		c.bindings = append(c.bindings, readBindings(doc)...)
	}
	if c.dep, err = loadDeployment(c.root); err != nil {
		return err
	}
	c.resources = c.dep.resources()
	c.readAppSettings()
	gos, err := goFiles(c.root)
	if err != nil {
		return err
	}
	c.reads, err = goReads(c.root, gos)
	return err
}

func readBindings(doc *jsonDoc) []binding {
	fn := path.Base(path.Dir(doc.path))
	list, _ := doc.data["bindings"].([]any)
	var out []binding
	for i, x := range list {
		m, _ := x.(map[string]any)
		str := func(k string) string { s, _ := m[k].(string); return s }
		b := binding{fn: fn, file: doc.path, index: i, doc: doc, name: str("name"), typ: str("type"),
			queueName: str("queueName"), topicName: str("topicName"), connection: str("connection")}
		b.sessions, _ = m["isSessionsEnabled"].(bool)
		b.auto, b.autoSet = m["autoCompleteMessages"].(bool)
		out = append(out, b)
	}
	return out
}

// readAppSettings collects the function app's settings from every
// Microsoft.Web/sites/config 'appsettings' resource and siteConfig.appSettings.
func (c *checker) readAppSettings() {
	set := func(name string, v value, at Pos) {
		if c.app == nil {
			c.app = map[string]appSetting{}
		}
		if prev, dup := c.app[name]; dup {
			c.add(KindInfra, name, at, "app setting %s is set twice (also at %s)", name, prev.pos)
			return
		}
		c.app[name] = appSetting{v: v, pos: at}
	}
	for _, r := range c.resources {
		switch r.decl.fullType() {
		case typeSiteConfig:
			if n := r.prop("name"); n.kind != vString || n.s != "appsettings" {
				continue
			}
			c.appPos = r.pos()
			propsNode, ok := r.obj.get("properties").(*objNode)
			if !ok {
				c.add(KindInfra, "appsettings", r.pos(), "write the app settings as an object literal so they can be checked")
				continue
			}
			for _, p := range propsNode.props {
				set(p.key, r.inst.eval(p.value, r.env), Pos{File: r.inst.file.path, Line: p.line})
			}
		case typeSite:
			list := r.prop("properties", "siteConfig", "appSettings")
			for _, item := range list.arr {
				if name := item.field("name"); name.kind == vString {
					set(name.s, item.field("value"), item.at)
				}
			}
			if c.appPos.File == "" && len(list.arr) > 0 {
				c.appPos = r.pos()
			}
		}
	}
	if c.app == nil {
		c.appPos = Pos{File: infraDir}
		c.add(KindInfra, "appsettings", c.appPos, "no function app settings found: infra must have a Microsoft.Web/sites/config resource named 'appsettings'")
	}
}

func (c *checker) inSettings(name string) bool {
	for _, s := range c.settings {
		if s.Name == name {
			return true
		}
	}
	return false
}

func (c *checker) examplePos(name string) Pos {
	if _, ok := c.exampleVal[name]; ok {
		return c.example.pos("Values/" + name)
	}
	return c.example.pos("Values")
}

// connectionPrefixes are the connection prefixes the bindings use.
func (c *checker) connectionPrefixes() map[string]bool {
	out := map[string]bool{}
	for _, b := range c.bindings {
		if b.typ == "serviceBusTrigger" {
			out[connectionPrefix(b)] = true
		}
	}
	return out
}

func connectionPrefix(b binding) string {
	if b.connection == "" {
		// The Service Bus extension's default connection name.
		return "AzureWebJobsServiceBus"
	}
	return b.connection
}

func hasPrefixOf(name string, prefixes map[string]bool) bool {
	for p := range prefixes {
		if strings.HasPrefix(name, p+"__") {
			return true
		}
	}
	return false
}

// checkSettings compares config.Settings, the example file, the infra app
// settings and the names the code reads.
func (c *checker) checkSettings() {
	prefixes := c.connectionPrefixes()
	refs := c.settingRefs()
	read := map[string]bool{}
	for _, r := range c.reads {
		read[r.Name] = true
		if !c.inSettings(r.Name) && hostProvided[r.Name] == "" {
			c.add(KindSetting, r.Name, r.Pos, "the code reads %s, but config.Settings does not list it, so neither %s nor infra sets it", r.Name, exampleFile)
		}
	}
	for _, s := range c.settings {
		if _, ok := c.exampleVal[s.Name]; !ok {
			c.add(KindSetting, s.Name, c.examplePos(s.Name), "config.Settings lists %s but %s does not (regenerate it: go test ./internal/config -update)", s.Name, exampleFile)
		}
		if !read[s.Name] && hostRead[s.Name] == "" && !hasPrefixOf(s.Name, prefixes) && len(refs[s.Name]) == 0 {
			c.add(KindSetting, s.Name, c.examplePos(s.Name), "config.Settings lists %s, but neither the code nor the Functions host reads it", s.Name)
		}
		if c.app == nil {
			continue
		}
		reason, local := localOnly[s.Name]
		got, inInfra := c.app[s.Name]
		switch {
		case local && inInfra:
			c.add(KindSetting, s.Name, got.pos, "infra sets %s, which must not be set in Azure: %s", s.Name, reason)
		case !local && !inInfra:
			c.add(KindSetting, s.Name, c.appPos, "config.Settings lists %s and Azure needs it, but the infra app settings do not set it (if it is local-only, say why in infracheck's localOnly)", s.Name)
		}
	}
	for _, k := range sortedKeys(c.exampleVal) {
		if !c.inSettings(k) {
			c.add(KindSetting, k, c.example.pos("Values/"+k), "%s has %s, but config.Settings does not list it", exampleFile, k)
		}
	}
	if c.app == nil {
		return
	}
	for _, k := range sortedKeys(requiredHost) {
		if _, ok := c.app[k]; !ok {
			c.add(KindSetting, k, c.appPos, "the infra app settings lack %s: %s", k, requiredHost[k])
		}
	}
	for _, k := range sortedKeys(c.app) {
		got := c.app[k]
		if !c.inSettings(k) && requiredHost[k] == "" && !hasPrefixOf(k, prefixes) {
			c.add(KindSetting, k, got.pos, "infra sets %s, but neither config.Settings nor the Functions host reads it", k)
		}
		want, fixed := requiredValues[k]
		if strings.HasSuffix(k, "__credential") {
			want, fixed = "managedidentity", true
		}
		if s, ok := got.v.text(); fixed && ok && s != want {
			c.add(KindValue, k, got.pos, "infra sets %s to %q; Azure needs %q", k, s, want)
		}
	}
}

var (
	// settingRefPattern finds %Setting% references the host expands.
	settingRefPattern = regexp.MustCompile(`%([A-Za-z0-9_.:-]+)%`)
	// wholeRefPattern matches a value that is one reference and nothing else.
	wholeRefPattern = regexp.MustCompile(`^%([A-Za-z0-9_.:-]+)%$`)
)

// settingRefs finds every %Setting% in host.json and the function.json
// files, by setting name.
func (c *checker) settingRefs() map[string][]Pos {
	out := map[string][]Pos{}
	var walk func(doc *jsonDoc, key string, x any)
	walk = func(doc *jsonDoc, key string, x any) {
		prefix := key
		if prefix != "" {
			prefix += "/"
		}
		switch x := x.(type) {
		case string:
			for _, m := range settingRefPattern.FindAllStringSubmatch(x, -1) {
				out[m[1]] = append(out[m[1]], doc.pos(key))
			}
		case map[string]any:
			for _, k := range sortedKeys(x) {
				walk(doc, prefix+k, x[k])
			}
		case []any:
			for i, e := range x {
				walk(doc, prefix+strconv.Itoa(i), e)
			}
		}
	}
	walk(c.host, "", c.host.data)
	for _, f := range c.functions {
		walk(f, "", f.data)
	}
	return out
}

// checkReferences checks that every %Setting% the host expands is set
// everywhere the host runs.
func (c *checker) checkReferences() {
	refs := c.settingRefs()
	for _, name := range sortedKeys(refs) {
		var missing []string
		if !c.inSettings(name) {
			missing = append(missing, "config.Settings")
		}
		if _, ok := c.exampleVal[name]; !ok {
			missing = append(missing, exampleFile)
		}
		if _, ok := c.app[name]; c.app != nil && !ok {
			missing = append(missing, "the infra app settings")
		}
		if len(missing) > 0 {
			c.add(KindSetting, name, refs[name][0], "%%%s%% is expanded by the Functions host, but %s is missing from %s", name, name, strings.Join(missing, " and "))
		}
	}
}

// queueRes is a queue infra creates.
type queueRes struct {
	name string
	res  deployed
	used bool
}

func (c *checker) queues() []*queueRes {
	var out []*queueRes
	for _, r := range c.resources {
		if r.decl.fullType() != typeQueue {
			continue
		}
		name := r.prop("name")
		if name.kind != vString {
			c.add(KindInfra, r.decl.sym, r.pos(), "cannot work out the queue's name without deploying (%s); name it with a literal, a parameter or a variable", name.describe())
			continue
		}
		out = append(out, &queueRes{name: name.s, res: r})
	}
	return out
}

func (c *checker) checkBindings() {
	queues := c.queues()
	byName := map[string]*queueRes{}
	var names []string
	for _, q := range queues {
		byName[q.name] = q
		names = append(names, strconv.Quote(q.name))
	}
	if v, ok := c.host.data["extensions"].(map[string]any); ok {
		if sb, ok := v["serviceBus"].(map[string]any); ok {
			if auto, ok := sb["autoCompleteMessages"].(bool); ok && !auto {
				c.add(KindBinding, "autoCompleteMessages", c.host.pos("extensions/serviceBus/autoCompleteMessages"),
					"a custom handler cannot settle messages itself, so the host must complete them: autoCompleteMessages must be true")
			}
		}
	}
	for _, b := range c.bindings {
		switch b.typ {
		case "timerTrigger", "httpTrigger", "http":
			// Their settings (%…% in a schedule or route) are checked with
			// every other reference; they name no queue or connection.
		case "serviceBusTrigger":
			c.checkServiceBus(b, byName, names)
		default:
			c.add(KindBinding, b.fn+"/"+b.name, b.pos("type"), "infracheck does not know binding type %q; teach it which settings and resources it needs", b.typ)
		}
	}
	for _, q := range queues {
		if q.used {
			continue
		}
		named := false
		for _, s := range c.app {
			if t, ok := s.v.text(); ok && t == q.name {
				named = true
			}
		}
		if !named {
			c.add(KindQueue, q.name, q.res.pos(), "infra creates queue %q, but no function reads it and no app setting names it", q.name)
		}
	}
}

func (c *checker) checkServiceBus(b binding, byName map[string]*queueRes, names []string) {
	if b.topicName != "" || b.queueName == "" {
		c.add(KindBinding, b.fn+"/"+b.name, b.pos("type"), "only queue triggers are checked; this one has no queueName")
		return
	}
	if b.autoSet && !b.auto {
		c.add(KindBinding, b.fn+"/"+b.name, b.pos("autoCompleteMessages"), "a custom handler cannot settle messages itself: autoCompleteMessages must be true")
	}
	c.checkConnection(b)

	// Resolve the queue name in Azure (infra app settings) and locally
	// (the example file); a literal name is the same in both.
	azure, local := b.queueName, b.queueName
	azureKnown, localKnown := true, true
	var via string
	azureAt := b.pos("queueName")
	if m := wholeRefPattern.FindStringSubmatch(b.queueName); m != nil {
		via = m[1]
		s, inInfra := c.app[via]
		// A setting missing from a place is reported with the other
		// references; only a value that is there can name the wrong queue.
		azureKnown = inInfra
		if inInfra {
			if azure, azureKnown = s.v.text(); !azureKnown {
				c.add(KindQueue, b.queueName, s.pos, "%s reads its queue from %s, whose infra value cannot be worked out without deploying (%s)", b.label(), via, s.v.describe())
			}
			azureAt = s.v.at
		}
		local, localKnown = c.exampleVal[via]
	}
	q := byName[azure]
	if azureKnown && q == nil {
		source := "named in " + b.file
		if via != "" {
			source = fmt.Sprintf("%s in infra, %s", via, azureAt)
		}
		c.add(KindQueue, azure, b.pos("queueName"), "%s reads queue %q (%s), but infra creates no such queue (it creates %s)",
			b.label(), azure, source, strings.Join(names, ", "))
	}
	if azureKnown && localKnown && local != azure {
		c.add(KindQueue, azure, b.pos("queueName"), "%s reads queue %q in Azure (%s) but %q locally (%s)",
			b.label(), azure, azureAt, local, c.examplePos(via))
	}
	if q == nil {
		return
	}
	q.used = true
	props := q.res.prop("properties")
	if rs := props.field("requiresSession"); rs.kind == vBool || rs.kind == vNull {
		if rs.b != b.sessions {
			c.add(KindSession, q.name, b.pos("isSessionsEnabled"), "%s has isSessionsEnabled %t, but queue %q (%s) has requiresSession %t; the trigger cannot receive from it",
				b.label(), b.sessions, q.name, q.res.pos(), rs.b)
		}
	}
	if dd := props.field("requiresDuplicateDetection"); dd.kind != vBool || !dd.b {
		c.add(KindValue, q.name, q.res.pos(), "queue %q needs requiresDuplicateDetection true: the scheduler's deterministic MessageIds rely on it to drop a re-fired timer's jobs", q.name)
	}
	// SyncQueueName pairs with SyncQueueMaxDeliveryCount: the runner marks
	// the last delivery final, so it must know the queue's number.
	if base, ok := strings.CutSuffix(via, "Name"); ok && c.inSettings(base+"MaxDeliveryCount") {
		md := base + "MaxDeliveryCount"
		want := props.field("maxDeliveryCount")
		if want.kind == vNull {
			want = value{kind: vNumber, n: 10, at: q.res.pos()} // the ARM default
		}
		got, inInfra := c.app[md]
		s, known := got.v.text()
		if inInfra && known && want.kind == vNumber && s != strconv.FormatInt(want.n, 10) {
			c.add(KindValue, md, got.pos, "infra sets %s to %s, but queue %q dead-letters after %d deliveries (%s)", md, s, q.name, want.n, want.at)
		}
	}
}

// checkConnection checks that a trigger's connection prefix is configured
// with identity-based settings in Azure and named in the example file.
func (c *checker) checkConnection(b binding) {
	p := connectionPrefix(b)
	var missing []string
	if c.app != nil {
		var absent []string
		for _, suffix := range []string{"__fullyQualifiedNamespace", "__credential", "__clientId"} {
			if _, ok := c.app[p+suffix]; !ok {
				absent = append(absent, p+suffix)
			}
		}
		if len(absent) > 0 {
			missing = append(missing, fmt.Sprintf("the infra app settings (%s, %s)", strings.Join(absent, ", "), c.appPos))
		}
		if s, ok := c.app[p]; ok {
			c.add(KindConnection, p, s.pos, "infra sets %s, a connection string; use the identity-based %s__ settings", p, p)
		}
	}
	_, nsLocal := c.exampleVal[p+"__fullyQualifiedNamespace"]
	_, csLocal := c.exampleVal[p]
	if !nsLocal && !csLocal {
		missing = append(missing, fmt.Sprintf("%s (%s__fullyQualifiedNamespace)", exampleFile, p))
	}
	if len(missing) > 0 {
		c.add(KindConnection, p, b.pos("connection"), "%s connects with prefix %s, which is not configured in %s", b.label(), p, strings.Join(missing, " or "))
	}
}

func (c *checker) checkTables() {
	infra := map[string]Pos{}
	at := Pos{File: infraDir}
	for _, r := range c.resources {
		if r.decl.fullType() != typeTable {
			continue
		}
		at = Pos{File: r.inst.file.path, Line: r.decl.line}
		name := r.prop("name")
		if name.kind != vString {
			c.add(KindInfra, r.decl.sym, r.pos(), "cannot work out the table's name without deploying (%s)", name.describe())
			continue
		}
		infra[name.s] = name.at
	}
	want := map[string]bool{}
	for _, t := range c.tables {
		want[t] = true
		if _, ok := infra[t]; !ok {
			c.add(KindTable, t, at, "state.Tables has table %q (internal/state/store.go), but infra does not create it", t)
		}
	}
	for _, t := range sortedKeys(infra) {
		if !want[t] {
			c.add(KindTable, t, infra[t], "infra creates table %q, which state.Tables does not list", t)
		}
	}
}

// checkContainers checks that infra creates every container the code
// names. Infra may create more (the Flex deployment package's container,
// whose name is a parameter): the code never names those.
func (c *checker) checkContainers() {
	infra := map[string]bool{}
	at := Pos{File: infraDir}
	for _, r := range c.resources {
		if r.decl.fullType() != typeContainer {
			continue
		}
		at = Pos{File: r.inst.file.path, Line: r.decl.line}
		if name := r.prop("name"); name.kind == vString {
			infra[name.s] = true
		}
	}
	for _, name := range c.containers {
		if !infra[name] {
			c.add(KindContainer, name, at, "the code names blob container %q (state.BlobContainer or tenant.DropContainer), but infra does not create it", name)
		}
	}
}

// grant is a role assignment infra makes.
type grant struct {
	role      string
	scopeType string // "" when the scope is the resource group
	at        Pos
}

var guidPattern = regexp.MustCompile(`[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

func (c *checker) grants() []grant {
	var out []grant
	for _, r := range c.resources {
		if r.decl.fullType() != typeRoleAssignment {
			continue
		}
		g := grant{at: r.pos()}
		if props, ok := r.obj.get("properties").(*objNode); ok {
			var v value
			switch n := props.get("roleDefinitionId").(type) {
			case *callNode:
				// subscriptionResourceId('…/roleDefinitions', id): the id is last.
				if len(n.args) > 0 {
					v = r.inst.eval(n.args[len(n.args)-1], r.env)
				}
			case nil:
			default:
				v = r.inst.eval(n, r.env)
			}
			if v.kind == vString {
				g.role = strings.ToLower(guidPattern.FindString(v.s))
			}
		}
		if ref, ok := r.obj.get("scope").(*refNode); ok {
			if d := r.inst.file.resource(ref.path[0]); d != nil && len(ref.path) == 1 {
				g.scopeType = d.fullType()
			}
		}
		if g.role == "" {
			c.add(KindInfra, r.decl.sym, r.pos(), "cannot work out which role this assignment grants without deploying")
			continue
		}
		out = append(out, g)
	}
	return out
}

// checkRoles checks that the identity holds the role each identity-based
// setting needs, on the kind of resource the setting points at.
func (c *checker) checkRoles() {
	if c.app == nil {
		return
	}
	type need struct {
		role, scope, because string
		at                   Pos
	}
	var needs []need
	if s, ok := c.app["AzureWebJobsStorage__accountName"]; ok {
		needs = append(needs, need{roleBlobDataOwner, "Microsoft.Storage/storageAccounts", "the host's storage (AzureWebJobsStorage__accountName) and the Flex deployment container", s.pos})
	}
	if s, ok := c.app[config.TablesEndpoint]; ok {
		needs = append(needs, need{roleTableDataContributor, "Microsoft.Storage/storageAccounts", "the state tables (" + config.TablesEndpoint + ")", s.pos})
	}
	for _, b := range c.bindings {
		if b.typ == "serviceBusTrigger" {
			needs = append(needs, need{roleServiceBusReceiver, "Microsoft.ServiceBus/namespaces", b.label(), b.pos("type")})
			break
		}
	}
	for _, r := range c.reads {
		if s, ok := c.app[r.Name]; ok && strings.HasSuffix(r.Name, "__fullyQualifiedNamespace") {
			needs = append(needs, need{roleServiceBusSender, "Microsoft.ServiceBus/namespaces", "the code's sender (" + r.Name + ", " + r.Pos.String() + ")", s.pos})
			break
		}
	}
	if s, ok := c.app[config.BlobsEndpoint]; ok {
		needs = append(needs, need{roleBlobDataOwner, "Microsoft.Storage/storageAccounts", "plan bodies and roster drops (" + config.BlobsEndpoint + ")", s.pos})
	}
	if s, ok := c.app[config.KeyVaultURI]; ok {
		needs = append(needs, need{roleKeyVaultSecretsUser, "Microsoft.KeyVault/vaults", "secrets (" + config.KeyVaultURI + ")", s.pos})
	}
	if s, ok := c.app["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"]; ok {
		needs = append(needs, need{roleMetricsPublisher, "Microsoft.Insights/components", "telemetry by identity", s.pos})
	}
	grants := c.grants()
	for _, n := range needs {
		found := false
		for _, g := range grants {
			if g.role == n.role && (g.scopeType == "" || strings.HasPrefix(g.scopeType, n.scope)) {
				found = true
			}
		}
		if !found {
			c.add(KindRole, roleNames[n.role], n.at, "%s needs the identity to hold %s on a %s, but no role assignment in infra grants it", n.because, roleNames[n.role], n.scope)
		}
	}
}

// checkRuntime checks that a host.json custom handler runs on a function
// app whose Flex runtime is custom.
func (c *checker) checkRuntime() {
	if _, custom := c.host.data["customHandler"]; !custom {
		return
	}
	for _, r := range c.resources {
		if r.decl.fullType() != typeSite {
			continue
		}
		rt := r.prop("properties", "functionAppConfig", "runtime", "name")
		if rt.kind == vString && rt.s != "custom" {
			c.add(KindValue, "runtime", rt.at, "host.json configures a custom handler, but the app's functionAppConfig.runtime is %q, not \"custom\"", rt.s)
		}
		if rt.kind == vNull {
			c.add(KindValue, "runtime", r.pos(), "host.json configures a custom handler, but the app sets no functionAppConfig.runtime (Flex needs name 'custom', version '1.0')")
		}
	}
}

// checkModules checks that every module output a file uses is declared.
func (c *checker) checkModules() {
	for _, rel := range sortedKeys(c.dep.files) {
		f := c.dep.files[rel]
		for _, ref := range moduleOutputRefs(f) {
			m := f.module(ref.sym)
			target := c.dep.files[path.Clean(path.Join(path.Dir(f.path), m.path))]
			if target != nil && target.outputs[ref.name] == nil {
				c.add(KindInfra, ref.sym+".outputs."+ref.name, Pos{File: f.path, Line: ref.line}, "%s declares no output %s", target.path, ref.name)
			}
		}
	}
}
