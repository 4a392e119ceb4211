// Scaffolding: replaced by the module's real sources.
enum BrokerClientScaffolding {}
