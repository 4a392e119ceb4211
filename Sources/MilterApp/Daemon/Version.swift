/// The name and version `fedmail-milter` reports (`-V`, logs, the filter header).
public enum FedMailMilterVersion {
    /// The program name.
    public static let name = "fedmail-milter"
    /// The version.
    public static let version = "0.1.0"
}
