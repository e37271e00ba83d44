package infracheck

import (
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// repoRoot is the repository these tests check and copy.
const repoRoot = "../.."

// TestRepository is the consistency test itself: the repository as it
// stands must have no problems.
func TestRepository(t *testing.T) {
	checkClean(t, repoRoot)
}

// checkClean fails the test with every problem Check finds under root.
func checkClean(t *testing.T, root string) {
	t.Helper()
	problems, err := Check(root, nil)
	if err != nil {
		t.Fatalf("Check(%s): %v", root, err)
	}
	for _, p := range problems {
		t.Errorf("%s", p)
	}
}

// want identifies an expected problem: what it is about and where.
type want struct {
	kind    Kind
	subject string
	file    string
}

// TestMutations copies the files Check reads, changes one thing, and
// expects exactly the problems that change causes.
func TestMutations(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(t *testing.T, root string)
		want   []want
	}{
		{
			name: "queue renamed in the bicep",
			mutate: func(t *testing.T, root string) {
				replace(t, root, "infra/main.bicep", "var syncQueueName = 'sync-jobs'", "var syncQueueName = 'sync-jobs-v2'")
			},
			// Azure is consistent with itself (the app setting follows the
			// queue), but local runs would use another queue.
			want: []want{{KindQueue, "sync-jobs-v2", "functions/SyncJob/function.json"}},
		},
		{
			name: "app setting names a queue infra does not create",
			mutate: func(t *testing.T, root string) {
				replace(t, root, "infra/modules/functionapp.bicep", "SyncQueueName: syncQueueName", "SyncQueueName: 'sync-jobs-old'")
			},
			want: []want{
				{KindQueue, "sync-jobs-old", "functions/SyncJob/function.json"}, // no such queue
				{KindQueue, "sync-jobs-old", "functions/SyncJob/function.json"}, // local says sync-jobs
				{KindQueue, "sync-jobs", "infra/modules/servicebus.bicep"},      // created, used by nothing
			},
		},
		{
			name: "table dropped from the bicep",
			mutate: func(t *testing.T, root string) {
				replace(t, root, "infra/modules/storage.bicep", "  'deadletters'\n", "")
			},
			want: []want{{KindTable, "deadletters", "infra/modules/storage.bicep"}},
		},
		{
			name: "table infra creates that the code does not use",
			mutate: func(t *testing.T, root string) {
				replace(t, root, "infra/modules/storage.bicep", "  'deadletters'\n", "  'deadletters'\n  'leftovers'\n")
			},
			want: []want{{KindTable, "leftovers", "infra/modules/storage.bicep"}},
		},
		{
			name: "drop container dropped from the bicep",
			mutate: func(t *testing.T, root string) {
				replace(t, root, "infra/modules/storage.bicep", "  'rosterdrops'\n", "")
			},
			want: []want{{KindContainer, "rosterdrops", "infra/modules/storage.bicep"}},
		},
		{
			name: "plan container renamed in the bicep",
			mutate: func(t *testing.T, root string) {
				replace(t, root, "infra/modules/storage.bicep", "  'plans'\n  'rosterdrops'\n", "  'plan-bodies'\n  'rosterdrops'\n")
			},
			want: []want{{KindContainer, "plans", "infra/modules/storage.bicep"}},
		},
		{
			name: "blob endpoint missing from the app settings",
			mutate: func(t *testing.T, root string) {
				replace(t, root, "infra/modules/functionapp.bicep", "      BlobsEndpoint: blobsEndpoint\n", "")
			},
			want: []want{{KindSetting, "BlobsEndpoint", "infra/modules/functionapp.bicep"}},
		},
		{
			name: "requiresSession flipped",
			mutate: func(t *testing.T, root string) {
				replace(t, root, "infra/modules/servicebus.bicep", "requiresSession: true", "requiresSession: false")
			},
			want: []want{{KindSession, "sync-jobs", "functions/SyncJob/function.json"}},
		},
		{
			name: "function with an unknown connection prefix",
			mutate: func(t *testing.T, root string) {
				write(t, root, "functions/Reports/function.json", `{
  "bindings": [
    {
      "name": "job",
      "type": "serviceBusTrigger",
      "direction": "in",
      "queueName": "%SyncQueueName%",
      "connection": "ReportsConnection",
      "isSessionsEnabled": true,
      "autoCompleteMessages": true
    }
  ]
}
`)
			},
			want: []want{{KindConnection, "ReportsConnection", "functions/Reports/function.json"}},
		},
		{
			name: "function with a binding type infracheck does not know",
			mutate: func(t *testing.T, root string) {
				write(t, root, "functions/Imports/function.json", `{"bindings": [{"name": "msg", "type": "queueTrigger", "direction": "in", "queueName": "imports", "connection": "AzureWebJobsStorage"}]}`)
			},
			want: []want{{KindBinding, "Imports/msg", "functions/Imports/function.json"}},
		},
		{
			name: "setting removed from the example file",
			mutate: func(t *testing.T, root string) {
				replace(t, root, "local.settings.json.example", "    \"KeyVaultUri\": \"\",\n", "")
			},
			want: []want{{KindSetting, "KeyVaultUri", "local.settings.json.example"}},
		},
		{
			name: "setting missing from the infra app settings",
			mutate: func(t *testing.T, root string) {
				replace(t, root, "infra/modules/functionapp.bicep", "      LogLevel: logLevel\n", "")
			},
			want: []want{{KindSetting, "LogLevel", "infra/modules/functionapp.bicep"}},
		},
		{
			name: "infra sets a setting nothing reads",
			mutate: func(t *testing.T, root string) {
				replace(t, root, "infra/modules/functionapp.bicep", "      LogLevel: logLevel\n", "      LogLevel: logLevel\n      LogFormat: 'json'\n")
			},
			want: []want{{KindSetting, "LogFormat", "infra/modules/functionapp.bicep"}},
		},
		{
			name: "infra sets a local-only connection string",
			mutate: func(t *testing.T, root string) {
				replace(t, root, "infra/modules/functionapp.bicep", "      LogLevel: logLevel\n", "      LogLevel: logLevel\n      ServiceBusConnectionString: ''\n")
			},
			want: []want{{KindSetting, "ServiceBusConnectionString", "infra/modules/functionapp.bicep"}},
		},
		{
			name: "infra sets FUNCTIONS_WORKER_RUNTIME on Flex",
			mutate: func(t *testing.T, root string) {
				replace(t, root, "infra/modules/functionapp.bicep", "      LogLevel: logLevel\n", "      LogLevel: logLevel\n      FUNCTIONS_WORKER_RUNTIME: 'custom'\n")
			},
			want: []want{{KindSetting, "FUNCTIONS_WORKER_RUNTIME", "infra/modules/functionapp.bicep"}},
		},
		{
			name: "code reads a setting config.Settings does not list",
			mutate: func(t *testing.T, root string) {
				write(t, root, "cmd/extra/extra.go", "package extra\n\nimport \"os\"\n\nfunc mystery() string { return os.Getenv(\"MysterySetting\") }\n")
			},
			want: []want{{KindSetting, "MysterySetting", "cmd/extra/extra.go"}},
		},
		{
			name: "queue's maxDeliveryCount differs from the setting",
			mutate: func(t *testing.T, root string) {
				replace(t, root, "infra/modules/servicebus.bicep", "maxDeliveryCount: maxDeliveryCount", "maxDeliveryCount: 10")
			},
			want: []want{{KindValue, "SyncQueueMaxDeliveryCount", "infra/modules/functionapp.bicep"}},
		},
		{
			name: "Graph auth mode is not federated",
			mutate: func(t *testing.T, root string) {
				replace(t, root, "infra/modules/functionapp.bicep", "GraphAuthMode: 'federated'", "GraphAuthMode: 'secret'")
			},
			want: []want{{KindValue, "GraphAuthMode", "infra/modules/functionapp.bicep"}},
		},
		{
			name: "Key Vault role replaced by one that cannot read secrets",
			mutate: func(t *testing.T, root string) {
				// Key Vault Reader sees the vault, not secret values.
				replace(t, root, "infra/modules/keyvault.bicep", "4633458b-17de-408a-b874-0445c86b69e6", "21090545-7ca7-4776-b22c-e363652d74d2")
			},
			want: []want{{KindRole, "Key Vault Secrets User", "infra/modules/functionapp.bicep"}},
		},
		{
			name: "module output that does not exist",
			mutate: func(t *testing.T, root string) {
				replace(t, root, "infra/main.bicep", "tablesEndpoint: storage.outputs.tableEndpoint", "tablesEndpoint: storage.outputs.tablesEndpoint")
			},
			want: []want{{KindInfra, "storage.outputs.tablesEndpoint", "infra/main.bicep"}},
		},
		{
			name: "Service Bus 4.x autoComplete in function.json",
			mutate: func(t *testing.T, root string) {
				replace(t, root, "functions/SyncJob/function.json", `"autoCompleteMessages": true`, `"autoComplete": true`)
			},
			want: []want{{KindProperty, "SyncJob/job/autoComplete", "functions/SyncJob/function.json"}},
		},
		{
			name: "misspelt Service Bus setting in host.json",
			mutate: func(t *testing.T, root string) {
				replace(t, root, "host.json", `"maxConcurrentSessions": 8`, `"maxConcurrentSession": 8`)
			},
			want: []want{{KindProperty, "extensions/serviceBus/maxConcurrentSession", "host.json"}},
		},
		{
			name: "maxConcurrentCalls for session triggers",
			mutate: func(t *testing.T, root string) {
				replace(t, root, "host.json", `"maxConcurrentSessions": 8`, `"maxConcurrentSessions": 8, "maxConcurrentCalls": 16`)
			},
			want: []want{{KindProperty, "extensions/serviceBus/maxConcurrentCalls", "host.json"}},
		},
		{
			name: "unknown custom handler setting",
			mutate: func(t *testing.T, root string) {
				replace(t, root, "host.json", `"enableProxyingHttpRequest": true`, `"enableProxyingHttpRequests": true`)
			},
			want: []want{{KindProperty, "customHandler/enableProxyingHttpRequests", "host.json"}},
		},
		{
			name: "unknown timer trigger property",
			mutate: func(t *testing.T, root string) {
				replace(t, root, "functions/Scheduler/function.json", `"useMonitor": true`, `"useMonitor": true, "runOnStart": true`)
			},
			want: []want{{KindProperty, "Scheduler/timer/runOnStart", "functions/Scheduler/function.json"}},
		},
		{
			name: "parameters file sets an undeclared parameter",
			mutate: func(t *testing.T, root string) {
				replace(t, root, "infra/main.parameters.json", `"logLevel": {`, `"logLevels": {`)
			},
			want: []want{{KindInfra, "logLevels", "infra/main.parameters.json"}},
		},
		{
			name: "consent callback behind a function key",
			mutate: func(t *testing.T, root string) {
				replace(t, root, "functions/Consent/function.json", `"authLevel": "anonymous"`, `"authLevel": "function"`)
			},
			want: []want{
				{KindBinding, "Consent/req", "functions/Consent/function.json"}, // must be anonymous
				{KindBinding, "consent/callback", "functions"},                  // so nothing serves it
			},
		},
		{
			name: "the API made anonymous",
			mutate: func(t *testing.T, root string) {
				replace(t, root, "functions/Api/function.json", `"authLevel": "function"`, `"authLevel": "anonymous"`)
			},
			want: []want{{KindBinding, "Api/req", "functions/Api/function.json"}},
		},
		{
			name: "consent callback moved without the redirect URI",
			mutate: func(t *testing.T, root string) {
				replace(t, root, "infra/main.bicep", `/api/consent/callback'`, `/api/onboarding/callback'`)
			},
			want: []want{{KindInfra, "/api/consent/callback", "infra/main.bicep"}},
		},
		{
			name: "consent redirect URI missing from the app settings",
			mutate: func(t *testing.T, root string) {
				replace(t, root, "infra/modules/functionapp.bicep", "      ConsentRedirectUri: consentRedirectUri\n", "")
			},
			want: []want{{KindSetting, "ConsentRedirectUri", "infra/modules/functionapp.bicep"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkMutation(t, repoRoot, tt.mutate, tt.want)
		})
	}
}

// checkMutation copies the files Check reads from root, applies mutate to
// the copy, and requires Check to report exactly want.
func checkMutation(t *testing.T, root string, mutate func(t *testing.T, root string), wantProblems []want) {
	t.Helper()
	dir := copyTree(t, root)
	mutate(t, dir)
	problems, err := Check(dir, nil)
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	var got []want
	for _, p := range problems {
		got = append(got, want{p.Kind, p.Subject, p.Pos.File})
	}
	sortWants(got)
	wantSorted := append([]want(nil), wantProblems...)
	sortWants(wantSorted)
	if !equalWants(got, wantSorted) {
		var lines []string
		for _, p := range problems {
			lines = append(lines, "\t"+p.String())
		}
		t.Errorf("Check reported %v, want %v; the problems:\n%s", got, wantSorted, strings.Join(lines, "\n"))
	}
}

func sortWants(w []want) {
	sort.Slice(w, func(i, j int) bool {
		a, b := w[i], w[j]
		if a.file != b.file {
			return a.file < b.file
		}
		if a.kind != b.kind {
			return a.kind < b.kind
		}
		return a.subject < b.subject
	})
}

func equalWants(a, b []want) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// copyTree copies the files Check reads from root into a new temporary
// directory and returns it.
func copyTree(t *testing.T, root string) string {
	t.Helper()
	files, err := Files(root)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, rel := range files {
		data, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(rel)))
		if err != nil {
			t.Fatal(err)
		}
		write(t, dir, rel, string(data))
	}
	return dir
}

// replace changes the one occurrence of old in a copied file; a test whose
// old text no longer occurs exactly once must be updated with the file.
func replace(t *testing.T, root, rel, old, new string) {
	t.Helper()
	path := filepath.Join(root, filepath.FromSlash(rel))
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(data), old); n != 1 {
		t.Fatalf("%s: %q occurs %d times, want once", rel, old, n)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(string(data), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}

func write(t *testing.T, root, rel, content string) {
	t.Helper()
	path := filepath.Join(root, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestUnreadableInputs checks that input Check cannot read is an error
// naming the file and line, not a silent pass.
func TestUnreadableInputs(t *testing.T) {
	tests := []struct {
		name      string
		rel       string
		old, new  string
		wantInErr string
		syntax    bool
	}{
		{"unterminated Bicep string", "infra/modules/storage.bicep", "'customers'", "'customers", "infra/modules/storage.bicep:", true},
		{"Bicep declaration it does not know", "infra/modules/keyvault.bicep", "param name string", "parameter name string", "infra/modules/keyvault.bicep:", true},
		{"broken function.json", "functions/SyncJob/function.json", `"bindings": [`, `"bindings": [[`, "functions/SyncJob/function.json", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := copyTree(t, repoRoot)
			replace(t, dir, tt.rel, tt.old, tt.new)
			_, err := Check(dir, nil)
			if err == nil {
				t.Fatal("Check succeeded on broken input")
			}
			if !strings.Contains(err.Error(), tt.wantInErr) {
				t.Errorf("error %q does not name %s", err, tt.wantInErr)
			}
			if got := errors.Is(err, ErrSyntax); got != tt.syntax {
				t.Errorf("errors.Is(err, ErrSyntax) = %t, want %t (err %v)", got, tt.syntax, err)
			}
		})
	}
}

// TestOptions checks that the code's lists can be replaced, so a change to
// config.Settings or state.Tables shows up as a problem in infra.
func TestOptions(t *testing.T) {
	problems, err := Check(repoRoot, &Options{Tables: []string{"customers"}})
	if err != nil {
		t.Fatal(err)
	}
	extra := 0
	for _, p := range problems {
		if p.Kind != KindTable {
			t.Errorf("unexpected problem %s", p)
		}
		extra++
	}
	if extra == 0 {
		t.Error("infra's tables beyond 'customers' were not reported")
	}
}
