// The multi-tenant app registration every customer consents to, and the
// federated identity credential that lets the managed identity act as it:
// the identity's token for api://AzureADTokenExchange is the app's client
// assertion in each customer tenant (shared/research/azure.md section 5), so
// the app has no secret and no certificate.
//
// Deploying this needs the Microsoft Graph Bicep extension and, for the
// person or pipeline deploying, the right to create applications in Entra ID
// (e.g. the Application Developer role).

extension 'br:mcr.microsoft.com/bicep/extensions/microsoftgraph/v1.0:1.0.0'

@description('Immutable key of the app registration, so redeploying updates it instead of creating another.')
param uniqueName string

param displayName string

@description('Principal (object) id of the user-assigned identity; the credential\'s subject.')
param managedIdentityPrincipalId string

@description('Where admin consent returns to.')
param redirectUris array

// Microsoft Graph's application id, the same in every tenant.
var microsoftGraph = '00000003-0000-0000-c000-000000000000'

resource app 'Microsoft.Graph/applications@v1.0' = {
  uniqueName: uniqueName
  displayName: displayName
  // Any organisation's admin can consent; personal accounts cannot.
  signInAudience: 'AzureADMultipleOrgs'
  web: {
    redirectUris: redirectUris
  }
  // Application permissions (type Role) only: rostersync runs without a
  // signed-in user. Each is the narrowest one that covers a feature in
  // shared/SPEC.md; admin consent grants exactly these.
  requiredResourceAccess: [
    {
      resourceAppId: microsoftGraph
      resourceAccess: [
        {
          // User.ReadWrite.All (§4): create, update, suspend and reactivate
          // student and staff accounts, set usage location and licences
          // (assignLicense), and read every user to match people to existing
          // accounts before creating any. Nothing narrower creates users.
          id: '741f803b-c850-494e-b5df-cde7c675a1ca'
          type: 'Role'
        }
        {
          // Group.ReadWrite.All (§5, §8, §9): create, update and delete year,
          // registration, teaching, department and hierarchy groups (Unified
          // and security), set their owners and members, and read a chosen
          // group's members for the inbound import. It covers membership, so
          // GroupMember.ReadWrite.All is not added; Group.Create alone could
          // not update or tidy up.
          id: '62a82d76-70ea-41e2-9197-370581804d09'
          type: 'Role'
        }
        {
          // EduRoster.ReadWrite.All (§6): create education classes, enrol
          // students and teachers, link classes to schools, and read
          // /education/schools to tell an Education tenant.
          id: 'd1808e82-ce13-47af-ae0d-f9b254e6d58a'
          type: 'Role'
        }
        {
          // Team.Create (§6): POST /teams with the educationClass template over
          // a class group. Group.ReadWrite.All is accepted there only for
          // backward compatibility.
          id: '23fc2474-f741-46ce-8465-674744c5c361'
          type: 'Role'
        }
        {
          // TeamSettings.ReadWrite.All (§6 tidy-up): archive the teams of
          // classes no longer in session. Group.ReadWrite.All is accepted for
          // archiving only for backward compatibility.
          id: 'bdd80a03-d9bc-451d-b7c4-ce7c63fe3c8f'
          type: 'Role'
        }
        {
          // Calendars.ReadWrite (§7): create, move and remove diary events in
          // users' calendars. (Group calendars cannot be written app-only.)
          id: 'ef54d2bf-783f-4e0f-bca1-3210c0444d99'
          type: 'Role'
        }
        {
          // AdministrativeUnit.ReadWrite.All (§8): one administrative unit per
          // school and its members.
          id: '5eb59dd3-1da2-4329-8733-9dabdc435916'
          type: 'Role'
        }
      ]
    }
  ]

  // The managed identity is the app's only credential. Issuer is this
  // (home) tenant's v2.0 authority, subject the identity's principal id.
  resource managedIdentityCredential 'federatedIdentityCredentials@v1.0' = {
    name: '${app.uniqueName}/managed-identity'
    description: 'rostersync\'s user-assigned managed identity signs in as this app in customer tenants.'
    issuer: '${environment().authentication.loginEndpoint}${tenant().tenantId}/v2.0'
    subject: managedIdentityPrincipalId
    audiences: [
      'api://AzureADTokenExchange'
    ]
  }
}

output appId string = app.appId
