import ArgumentParser

/// `fedmailctl`: the FedMail operator tool.
@main
struct FedMailCtl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fedmailctl",
        abstract: "FedMail operator tool: keys, CSRs, enrollment, broker lookups, sealing, opening and inspecting message files, and checking a gateway (doctor).",
        discussion: """
        Keys are RSA 3072 or EC P-256 in PEM; private key files must be mode 0600 \
        (files readable by group or others are refused, as OpenSSH does). A sealed \
        message is S/MIME AuthEnvelopedData (AES-256-GCM) around a SignedData, as \
        described in DESIGN.md, and opens with stock `openssl cms -decrypt`. \
        `enroll`, `renew`, `rekey` and `lookup` talk to a trust broker over TLS \
        (mutual TLS with the organization certificate, except enroll), trusting \
        only the pinned broker CA certificate.
        """,
        subcommands: [
            Keygen.self,
            CSR.self,
            Enroll.self,
            Renew.self,
            Rekey.self,
            Lookup.self,
            Seal.self,
            Open.self,
            Inspect.self,
            Scan.self,
            Doctor.self,
        ]
    )
}
