"""The REST API's two resolvers (query and data management), their models, the accounts admin, the direct
operations and the OpenAPI document."""
