import Testing
@testable import BrokerStore

@Suite("database location in messages")
struct StoreLocationRedactionTests {
    @Test("a password in the URL's user part or a password= parameter never reaches a message", arguments: [
        ("postgress://broker:s3cret@db.example/broker", "postgress://broker:***@db.example/broker"),
        ("postgres://broker:p%40ss@db.example:5432/broker?sslmode=verify-full", "postgres://broker:***@db.example:5432/broker?sslmode=verify-full"),
        ("postgres://db.example/broker?user=b&password=s3cret&sslmode=require", "postgres://db.example/broker?user=b&password=***&sslmode=require"),
        ("postgres://broker@db.example/broker", "postgres://broker@db.example/broker"),
        ("sqlite:/var/lib/fedmail-broker/broker.db", "sqlite:/var/lib/fedmail-broker/broker.db"),
    ])
    func redacted(location: String, expected: String) {
        #expect(SQLBrokerStore.redacted(location: location) == expected)
    }

    @Test("a location that is neither kind is refused without its password")
    func refusal() async {
        do {
            _ = try await SQLBrokerStore.open(location: "mysql://broker:s3cret@db.example/broker", logger: .init(label: "test"))
            Issue.record("opened")
        } catch {
            #expect(!"\(error)".contains("s3cret"))
        }
    }
}
