import ArgumentParser
import FedMailCrypto

extension FedMailCtl {
    struct Keygen: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Generate an organization private key.",
            discussion: """
            Writes an unencrypted PKCS#8 PEM private key with mode 0600. RSA 3072 \
            keys use KeyTrans (RSAES-OAEP SHA-256) when others seal to them; P-256 \
            keys use KeyAgree (ECDH, SHA-256 KDF). The key never leaves the gateway: \
            send only the CSR (`fedmailctl csr`) to the broker.

            Example: fedmailctl keygen --type p256 --out /etc/fedmail/org.key
            """
        )

        @Option(name: .long, help: "Key type: rsa3072 or p256.")
        var type: String

        @Option(name: .long, help: "Output file (created or replaced with mode 0600).")
        var out: String

        func run() throws {
            guard let keyType = KeyType(rawValue: type) else {
                throw ValidationError("--type must be rsa3072 or p256, not '\(type)'")
            }
            let key = try PrivateKey.generate(keyType)
            try key.write(toPath: out)
        }
    }
}
