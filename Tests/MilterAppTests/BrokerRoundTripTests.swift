import FedMailCore
import Foundation
import Milter
import MilterTesting
import Testing
@testable import MilterApp

/// Seal at A and open at B with real broker tokens and key containers: a
/// real BrokerService in process behind the FederationBrokerLookup seam
/// (t-federation.sh scenarios a-c through Postfix and HTTPS).
@Suite("seal-to-open round trip with an in-process broker")
struct BrokerRoundTripTests {
    @Test("direct mode: A seals with B's key container and a FedMail-Token; B verifies the token and opens to the exact original")
    func direct() async throws {
        let broker = try await EnrolledBroker.make()
        let a = try broker.gateway("a", allowlist: ["b.example  require"])
        let b = try broker.gateway("b", allowlist: ["a.example  require"])
        let original = Mail.message()
        let (sealed, opened) = try await onOwnThread {
            let sealed = try a.submit(original)
            return (sealed, try b.receive(Mail.relayed(sealed)))
        }
        await broker.close()
        #expect(sealed.response == .continue)
        let token = try #require(sealed.result.values(of: "FedMail-Token").first)
        #expect(token.hasPrefix("v=1; d=b.example; t="))
        #expect(opened.response == .continue)
        let verdict = try #require(opened.result.headers.first)
        #expect(verdict.value.hasPrefix("mx.b.test; fedmail=pass header.from=a.example policy.signer=org-a policy.token="), "\(verdict.value)")
        #expect(Array(opened.result.headers.dropFirst()) == original.headers)
        #expect(opened.result.body == original.body)
    }

    @Test("pop mode: the content key is wrapped with the broker's PoP key; B opens it from the token")
    func proofOfPossession() async throws {
        let broker = try await EnrolledBroker.make()
        let a = try broker.gateway("a", allowlist: ["b.example  require  mode=pop"])
        let b = try broker.gateway("b", allowlist: ["a.example  require"])
        let original = Mail.message()
        let (sealed, opened) = try await onOwnThread {
            let sealed = try a.submit(original)
            return (sealed, try b.receive(Mail.relayed(sealed)))
        }
        await broker.close()
        #expect(sealed.response == .continue)
        #expect(opened.response == .continue)
        #expect(opened.result.headers.first?.value.hasPrefix("mx.b.test; fedmail=pass") == true)
        #expect(opened.result.body == original.body)
    }

    @Test("a require domain the broker does not know: 451 4.7.0, never plaintext")
    func notFederated() async throws {
        let broker = try await EnrolledBroker.make()
        let a = try broker.gateway("a", allowlist: ["nowhere.example  require"])
        let run = try await onOwnThread { try a.submit(Mail.message(to: ["x@nowhere.example"])) }
        await broker.close()
        #expect(run.response.status == .tempfail)
        #expect(run.response.replyText == "451 4.7.0 FedMail: federation required for nowhere.example but the domain is not federated")
    }

    @Test("an opportunistic domain the broker does not know: plaintext, and X-FedMail-Plaintext says why")
    func opportunisticNotFederated() async throws {
        let broker = try await EnrolledBroker.make()
        let a = try broker.gateway("a", allowlist: ["nowhere.example  opportunistic"])
        let run = try await onOwnThread { try a.submit(Mail.message(to: ["x@nowhere.example"])) }
        await broker.close()
        #expect(run.response == .continue)
        #expect(run.result.values(of: "X-FedMail-Plaintext") == ["nowhere.example: the domain is not federated"])
    }

    @Test("a token moved onto another sealed message is refused at B (On-BadSeal): the seal lists the tokens it was made under")
    func tokenSwapped() async throws {
        let broker = try await EnrolledBroker.make()
        let a = try broker.gateway("a", allowlist: ["b.example  require"])
        let b = try broker.gateway("b", allowlist: ["a.example  require"])
        let run = try await onOwnThread {
            let first = Mail.relayed(try a.submit(Mail.message(subject: "first")))
            var second = Mail.relayed(try a.submit(Mail.message(subject: "second")))
            second.headers.removeAll { $0.hasName("FedMail-Token") }
            second.headers += first.headers.filter { $0.hasName("FedMail-Token") }
            return try b.receive(second)
        }
        await broker.close()
        #expect(run.response.status == .reject)
        #expect(run.response.replyText?.hasPrefix("550 5.7.1 FedMail: ") == true, "\(run.response.replyText ?? "-")")
    }
}
