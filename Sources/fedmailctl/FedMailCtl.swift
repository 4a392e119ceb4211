import ArgumentParser

/// `fedmailctl`: the FedMail operator tool. (This branch lists only the broker
/// subcommands; the full root lists every subcommand.)
@main
struct FedMailCtl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fedmailctl",
        abstract: "FedMail operator tool: keys, enrollment, broker lookups, sealed message files.",
        subcommands: [
            Enroll.self,
            Lookup.self,
        ]
    )
}
