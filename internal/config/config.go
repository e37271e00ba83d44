// Package config is the single list of app settings rostersync reads, with
// what each one means. local.settings.json.example is generated from it
// (and a test keeps the two equal), so no setting goes undocumented.
package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Setting is one app setting (an environment variable in the Functions
// host, "Values" in local.settings.json).
type Setting struct {
	Name string
	// Example is the value local.settings.json.example shows: a working
	// local value where one exists.
	Example string
	Help    string
}

// Names of the settings the code reads.
const (
	CustomHandlerPort     = "FUNCTIONS_CUSTOMHANDLER_PORT"
	WorkerRuntime         = "FUNCTIONS_WORKER_RUNTIME"
	WebJobsStorage        = "AzureWebJobsStorage"
	TablesConnection      = "TablesConnectionString"
	TablesEndpoint        = "TablesEndpoint"
	StateDir              = "StateDir"
	BlobsConnection       = "BlobsConnectionString"
	BlobsEndpoint         = "BlobsEndpoint"
	ServiceBusNamespace   = "ServiceBusConnection__fullyQualifiedNamespace"
	ServiceBusCredential  = "ServiceBusConnection__credential"
	ServiceBusClientID    = "ServiceBusConnection__clientId"
	ServiceBusConnString  = "ServiceBusConnectionString"
	SyncQueueName         = "SyncQueueName"
	SyncQueueMaxDelivery  = "SyncQueueMaxDeliveryCount"
	CredentialExportDays  = "CredentialExportDays"
	RetentionDays         = "RetentionDays"
	MaxStepsPerEntity     = "MaxStepsPerEntity"
	MaxOpAttempts         = "MaxOpAttempts"
	StallMinutes          = "StallMinutes"
	KeyVaultURI           = "KeyVaultUri"
	SecretsDir            = "SecretsDir"
	ManagedIdentityClient = "ManagedIdentityClientId"
	GraphAppClientID      = "GraphAppClientId"
	GraphAuthMode         = "GraphAuthMode"
	GraphBaseURL          = "GraphBaseUrl"
	GraphStaticToken      = "GraphStaticToken"
	GraphClientSecretName = "GraphClientSecretName"
	APIKey                = "ApiKey"
	ConsentRedirectURI    = "ConsentRedirectUri"
	ConsentReturnURL      = "ConsentReturnUrl"
	ConsentStateMinutes   = "ConsentStateMinutes"
	LogLevel              = "LogLevel"
	SummarySender         = "SummarySender"
	SummaryTenantID       = "SummaryTenantId"
	SummaryAppClientID    = "SummaryAppClientId"
	SummaryRunURL         = "SummaryRunUrl"
)

// Settings of roster sources: where a profile may send credentials and
// read feeds from (internal/egress, reconcile.FileSource).
const (
	LocalMode                = "LocalMode"
	CsvRoot                  = "CsvRoot"
	RosterSourceAllowedHosts = "RosterSourceAllowedHosts"
)

// ConsentCallbackRoute is the route (under the host's routePrefix, "api")
// of the Consent function, the anonymous HTTP function admin consent
// returns to; functions/Consent/function.json, the app registration's
// redirect URI in infra/ and the handler's route all name it (infracheck).
const ConsentCallbackRoute = "consent/callback"

// Settings is every setting, in the order the example file lists them.
var Settings = []Setting{
	{WorkerRuntime, "Custom", "Local Core Tools only: tells the host this is a custom handler. Not set on Flex Consumption, where functionAppConfig.runtime says 'custom'."},
	{CustomHandlerPort, "", "Set by the Functions host: the loopback port `rostersync serve` listens on. Leave empty; set it by hand only to run the handler alone."},
	{WebJobsStorage, "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;QueueEndpoint=http://127.0.0.1:10001/devstoreaccount1;TableEndpoint=http://127.0.0.1:10002/devstoreaccount1;", "The host's own storage (timer schedule monitor, keys). In Azure use AzureWebJobsStorage__accountName with the managed identity instead of a key."},
	{TablesConnection, "", "Table Storage connection string for rostersync's state, e.g. Azurite's full devstoreaccount1 string (UseDevelopmentStorage=true is translated). Empty: use TablesEndpoint, or the embedded store in StateDir."},
	{TablesEndpoint, "", "Table Storage endpoint (https://ACCOUNT.table.core.windows.net), reached with the managed identity (ManagedIdentityClientId). Used when TablesConnectionString is empty."},
	{StateDir, ".state", "Folder of the embedded state store, the default when neither TablesConnectionString nor TablesEndpoint is set."},
	{BlobsConnection, "", "Blob Storage connection string, e.g. Azurite's full devstoreaccount1 string with BlobEndpoint (UseDevelopmentStorage=true is translated): where blob roster sources find customers' drops (container rosterdrops, {customerId}/{prefix}/), and plan bodies (container plans) when the state is in Table Storage. Empty: use BlobsEndpoint; with neither, blob sources are refused and plan bodies stay with the state."},
	{BlobsEndpoint, "", "Blob Storage endpoint (https://ACCOUNT.blob.core.windows.net), reached with the managed identity (ManagedIdentityClientId). Used when BlobsConnectionString is empty."},
	{ServiceBusNamespace, "", "Service Bus namespace (NAME.servicebus.windows.net), used by the SyncJob trigger and by rostersync's sender, with the managed identity."},
	{ServiceBusCredential, "managedidentity", "Tells the Service Bus trigger to authenticate with a managed identity."},
	{ServiceBusClientID, "", "Client id of the user-assigned managed identity the Service Bus trigger uses."},
	{ServiceBusConnString, "", "Service Bus connection string, for development against a namespace with local auth. Empty in Azure, where the namespace setting and the identity are used."},
	{SyncQueueName, "sync-jobs", "The session-enabled queue the scheduler and API send jobs to and SyncJob is triggered from (SessionId = customer)."},
	{SyncQueueMaxDelivery, "5", "Must equal the queue's maxDeliveryCount: on that delivery the runner records the failure as final, because Service Bus dead-letters the message next."},
	{MaxStepsPerEntity, "1000", "Cap on the steps (follow-up messages) of one entity in one run; an entity that keeps asking for more ends failed with the reason instead of running for ever."},
	{MaxOpAttempts, "50", "Cap on the tries of one Graph operation across a run's steps (throttling, transient errors, replication); the change then fails with Graph's last answer."},
	{StallMinutes, "120", "A run with no step completed for this long is marked failed by the sweeper on the scheduler's tick; a long run that keeps progressing is never cut off."},
	{CredentialExportDays, "7", "Days an exported set of initial passwords stays fetchable until it is acknowledged; an export never acknowledged is destroyed after this, by the scheduler's tick."},
	{RetentionDays, "90", "Days a removed customer's links, runs and logs are kept before the scheduler's tick purges them (a new admin consent before then reuses the links); every customer's plans, which hold pupils' names, are purged after the same number of days."},
	{KeyVaultURI, "", "Key Vault URL (https://NAME.vault.azure.net/) holding secrets such as a development Graph client secret. Empty: secrets come from SecretsDir."},
	{SecretsDir, ".secrets", "Folder of local secrets, one file per secret name, used when KeyVaultUri is empty."},
	{ManagedIdentityClient, "", "Client id of the user-assigned managed identity rostersync uses for Table Storage, Service Bus, Key Vault and, as a federated credential, for Graph."},
	{GraphAppClientID, "", "Application (client) id of the multi-tenant app registration customers consent to."},
	{GraphAuthMode, "static", "How rostersync signs in to each customer's tenant: federated (managed identity as federated credential, production), secret or certificate (development), static (the local simulator)."},
	{GraphBaseURL, "http://127.0.0.1:5099/v1.0", "Graph base URL; https://graph.microsoft.com/v1.0 in production, the simulator's address locally."},
	{GraphStaticToken, "sim:{tenant}", "Bearer token for static mode; {tenant} is replaced by the customer's tenant id. Only the simulator accepts it."},
	{GraphClientSecretName, "graph-client-secret", "Name of the secret (Key Vault or SecretsDir) holding the app's client secret or PEM certificate in secret or certificate mode."},
	{ConsentRedirectURI, "http://127.0.0.1:7071/api/consent/callback", "Where Microsoft's admin-consent page returns to: this deployment's /api/consent/callback, exactly as registered in the app registration's redirect URIs. Local runs default to the dev host's address."},
	{ConsentReturnURL, "http://127.0.0.1:7071/consent-done", "The vendor UI page the consent callback sends the browser back to, with ?customer=…&outcome=connected|denied|error&reason=…; empty refuses to start an admin consent."},
	{ConsentStateMinutes, "30", "Minutes an admin-consent link (its signed, single-use state) stays usable."},
	{SummarySender, "", "The vendor's own mailbox (user id or userPrincipalName) daily summary emails are sent from, through Graph sendMail. Empty: no summaries are sent. Locally, a mailbox of the simulator's SummaryTenantId tenant."},
	{SummaryTenantID, "", "The vendor's own Entra tenant id, where SummarySender's mailbox and the summary app registration live; no customer tenant is ever asked for Mail.Send."},
	{SummaryAppClientID, "", "Application (client) id of the single-tenant app registration in the vendor's tenant that holds Mail.Send (scoped to SummarySender by an application access policy); signed in like GraphAppClientId (the managed identity's federated credential in production). Not used with the simulator."},
	{SummaryRunURL, "", "Root of the run links in summary emails: a run's link is {SummaryRunUrl}/customers/{customerId}/runs/{runId}, e.g. the vendor UI's runs page or this deployment's https://APP.azurewebsites.net/api. Empty: no links."},
	{APIKey, "", "Local host only: the function key the API requires (x-functions-key header or code parameter). In Azure the host checks function keys itself."},
	{LocalMode, "true", "Local runs only: true lets OneRoster REST sources use plain http to a loopback address (a test server on 127.0.0.1) and lets CSV feeds be read from CsvRoot. Unset (false) in Azure: sources must be https to public addresses, and a CSV path source is refused."},
	{CsvRoot, ".feeds", "Local mode only: the folder holding one folder per customer (CsvRoot/{customerId}/) that CSV profile paths are relative to; a path may not leave its customer's folder."},
	{RosterSourceAllowedHosts, "", "Comma-separated host names OneRoster REST token and base URLs may use; *.example.org allows its subdomains. Empty: any public host (private, link-local and loopback addresses are refused whatever this says)."},
	{LogLevel, "info", "debug, info, warn or error."},
}

// Lookup returns a setting's value from getenv, or def when empty.
func Lookup(getenv func(string) string, name, def string) string {
	if v := strings.TrimSpace(getenv(name)); v != "" {
		return v
	}
	return def
}

// LookupInt reads an integer setting.
func LookupInt(getenv func(string) string, name string, def int) (int, error) {
	v := Lookup(getenv, name, "")
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("setting %s=%q: want an integer", name, v)
	}
	return n, nil
}

// ExampleFile renders local.settings.json.example: Values hold the example
// values, and Explanations the meaning of each (the host ignores keys it
// does not know).
func ExampleFile() ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("{\n  \"IsEncrypted\": false,\n  \"Values\": {\n")
	for i, s := range Settings {
		writeKV(&b, s.Name, s.Example, i == len(Settings)-1)
	}
	b.WriteString("  },\n  \"Explanations\": {\n")
	for i, s := range Settings {
		writeKV(&b, s.Name, s.Help, i == len(Settings)-1)
	}
	b.WriteString("  }\n}\n")
	var check map[string]any
	if err := json.Unmarshal(b.Bytes(), &check); err != nil {
		return nil, fmt.Errorf("render example settings: %w", err)
	}
	return b.Bytes(), nil
}

func writeKV(b *bytes.Buffer, k, v string, last bool) {
	kj, _ := json.Marshal(k)
	vj, _ := json.Marshal(v)
	fmt.Fprintf(b, "    %s: %s", kj, vj)
	if !last {
		b.WriteByte(',')
	}
	b.WriteByte('\n')
}
