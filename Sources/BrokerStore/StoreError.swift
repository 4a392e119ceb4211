/// An error from the broker's store.
public struct StoreError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        let name: String
        private init(_ name: String) { self.name = name }
        /// The `Database` setting cannot be understood.
        public static let badLocation = Code("bad-location")
        /// The database could not be opened or reached.
        public static let unavailable = Code("unavailable")
        /// A statement failed.
        public static let queryFailed = Code("query-failed")
        /// The thing asked for does not exist.
        public static let notFound = Code("not-found")
        /// The change conflicts with existing state (e.g. a domain owned by another organization).
        public static let conflict = Code("conflict")
        /// The database has a newer schema than this program knows.
        public static let schemaTooNew = Code("schema-too-new")
        public var description: String { name }
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }
}
