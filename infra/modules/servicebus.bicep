// The job queue. One session per customer (SessionId = customer id) keeps a
// customer's jobs in order and lets customers run in parallel; duplicate
// detection drops a job the timer sends twice (MessageIds are deterministic).
// Local auth is off: the identity's roles are the only way in.

param name string
param location string
param queueName string

@description('Deliveries before dead-lettering; the app setting SyncQueueMaxDeliveryCount must say the same.')
param maxDeliveryCount int

@description('Principal (object) id of the managed identity the app runs as.')
param principalId string

var roles = {
  // The scheduler, the API and follow-ups send jobs (internal/queue/servicebus).
  serviceBusDataSender: '69a216fc-b8fb-44d8-bc22-1f3c2cd27a39'
  // The SyncJob trigger receives them.
  serviceBusDataReceiver: '4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0'
}

// Standard, not Basic: Basic has neither sessions nor duplicate detection.
resource namespace 'Microsoft.ServiceBus/namespaces@2024-01-01' = {
  name: name
  location: location
  sku: {
    name: 'Standard'
    tier: 'Standard'
  }
  properties: {
    disableLocalAuth: true
    minimumTlsVersion: '1.2'
  }
}

resource syncQueue 'Microsoft.ServiceBus/namespaces/queues@2024-01-01' = {
  parent: namespace
  name: queueName
  properties: {
    // Fixed at creation, like requiresDuplicateDetection.
    requiresSession: true
    requiresDuplicateDetection: true
    // The local broker (rostersync dev) uses the same hour.
    duplicateDetectionHistoryTimeWindow: 'PT1H'
    // The longest lock Service Bus allows; the host renews it while a job runs.
    lockDuration: 'PT5M'
    maxDeliveryCount: maxDeliveryCount
    // A job nobody ran within a day is stale; keep it for inspection.
    defaultMessageTimeToLive: 'P1D'
    deadLetteringOnMessageExpiration: true
  }
}

// Scoped to the queue, not the namespace: the identity needs nothing else.
resource grants 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for role in [
  roles.serviceBusDataSender
  roles.serviceBusDataReceiver
]: {
  name: guid(syncQueue.id, principalId, role)
  scope: syncQueue
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}]

output fullyQualifiedNamespace string = '${namespace.name}.servicebus.windows.net'
output queueName string = syncQueue.name
