import FedMailCore
@testable import FedMailCrypto
import Foundation
import Testing

/// Static partner certificates (the allowlist's `cert=`): a signer that is
/// exactly a pinned certificate opens without a chain to the broker CA; any
/// other signer still needs the chain.
@Suite struct PinnedSignerTests {
    @Test func pinnedSignerOpensWithoutChain() throws {
        let pki = try TestPKI.get()
        // The rogue sender chains to another CA: refused unless pinned.
        let original = MessageCorpus.message("crlf")
        let sealed = try AdversarialOpenTests.seal(pki, signer: pki.rogueSender, original: original)
        let path = AdversarialOpenTests.write(sealed, der: sealed.der)
        var opener = AdversarialOpenTests.rsaOpener(pki, sealed.scratch)
        opener.pinnedSigners = [pki.rogueSender.certificate]
        let out = sealed.scratch.file("pinned.eml")
        let opened = try opener.open(sealedPath: path, outputPath: out)
        #expect(opened.report.signerPinned)
        #expect(opened.report.checks.contains("signer-pinned"))
        #expect(!opened.report.checks.contains("signer-chain"))
        #expect(opened.report.signerCertificateSHA256 == pki.rogueSender.certificate.sha256Fingerprint)
        #expect(sealed.scratch.read("pinned.eml") == original)
    }

    @Test func anotherPinnedCertificateDoesNotHelp() throws {
        let pki = try TestPKI.get()
        let sealed = try AdversarialOpenTests.seal(pki, signer: pki.rogueSender)
        let path = AdversarialOpenTests.write(sealed, der: sealed.der)
        var opener = AdversarialOpenTests.rsaOpener(pki, sealed.scratch)
        opener.pinnedSigners = [pki.otherOrg.certificate, pki.sender.certificate]
        #expect(AdversarialOpenTests.failure(path, opener, scratch: sealed.scratch) == .signerNotChained)
    }

    @Test func pinnedCertificateOutsideItsValidityIsRefused() throws {
        let pki = try TestPKI.get()
        let sealed = try AdversarialOpenTests.seal(pki, signer: pki.rogueSender)
        let path = AdversarialOpenTests.write(sealed, der: sealed.der)
        var opener = AdversarialOpenTests.rsaOpener(pki, sealed.scratch)
        opener.pinnedSigners = [pki.rogueSender.certificate]
        opener.maxMessageAge = 365 * 86400
        // The test certificates live 30 days.
        #expect(AdversarialOpenTests.failure(path, opener, scratch: sealed.scratch, now: Date().addingTimeInterval(40 * 86400)) == .signerNotChained)
    }

    @Test func brokerChainedSignerIsNotReportedPinned() throws {
        let pki = try TestPKI.get()
        let sealed = try AdversarialOpenTests.seal(pki)
        let path = AdversarialOpenTests.write(sealed, der: sealed.der)
        var opener = AdversarialOpenTests.rsaOpener(pki, sealed.scratch)
        // A pin for other domains (rsa.example) leaves sender.example to the broker CA.
        opener.pinnedSigners = [pki.rsaOrg.certificate]
        let opened = try opener.open(sealedPath: path, outputPath: sealed.scratch.file("chained.eml"))
        #expect(!opened.report.signerPinned)
        #expect(opened.report.checks.contains("signer-chain"))
    }

    @Test func pinnedDomainRefusesBrokerChainedSigner() throws {
        let pki = try TestPKI.get()
        let sealed = try AdversarialOpenTests.seal(pki)
        let path = AdversarialOpenTests.write(sealed, der: sealed.der)
        var opener = AdversarialOpenTests.rsaOpener(pki, sealed.scratch)
        // The rogue certificate is pinned for sender.example: pins win, the
        // broker-chained signer of sender.example no longer speaks for it.
        opener.pinnedSigners = [pki.rogueSender.certificate]
        #expect(AdversarialOpenTests.failure(path, opener, scratch: sealed.scratch)?.name == "signer-not-pinned-for-domain")
        #expect(!FileManager.default.fileExists(atPath: sealed.scratch.file("out.eml")))
    }

    @Test func validityDates() throws {
        let pki = try TestPKI.get()
        let certificate = pki.sender.certificate
        #expect(certificate.isValid(at: Date()))
        #expect(!certificate.isValid(at: Date().addingTimeInterval(40 * 86400)))
        #expect(!certificate.isValid(at: Date().addingTimeInterval(-86400)))
    }
}
