/// Punycode (RFC 3492) encoding, used to turn internationalized domain
/// labels (U-labels) into their ASCII A-label form (`xn--…`).
///
/// Bounded work: it refuses more than ``maxScalars`` scalars (no valid
/// label has more), finds the non-basic code points once (sorted, n·log n)
/// instead of searching for the next one on every step, and is then at
/// most ``maxScalars``² simple steps per label.
enum Punycode {
    private static let base = 36, tMin = 1, tMax = 26, skew = 38, damp = 700
    private static let initialBias = 72, initialN = 128

    /// The most scalars one label may have: a label is at most 63 octets and
    /// every scalar costs at least one octet of its A-label, so a longer
    /// input can never give a valid label.
    static let maxScalars = 63

    /// Encodes one label's Unicode scalars; `nil` on overflow or when there
    /// are more than ``maxScalars`` of them.
    static func encode(_ scalars: [Unicode.Scalar]) -> String? {
        guard scalars.count <= maxScalars else { return nil }
        let codes = scalars.map { Int($0.value) }
        var output = scalars.filter(\.isASCII).map(Character.init)
        let basicCount = output.count
        var handled = basicCount
        if basicCount > 0 { output.append("-") }
        var n = initialN, delta = 0, bias = initialBias
        // The code points still to insert, in the order RFC 3492 handles
        // them (increasing), each once.
        let pending = Set(codes.filter { $0 >= initialN }).sorted()
        for m in pending {
            let (product, overflow) = (m - n).multipliedReportingOverflow(by: handled + 1)
            guard !overflow else { return nil }
            let (sum, overflowSum) = delta.addingReportingOverflow(product)
            guard !overflowSum else { return nil }
            delta = sum
            n = m
            for code in codes {
                if code < n { delta += 1 }
                if code == n {
                    var q = delta
                    var k = base
                    while true {
                        let t = k <= bias ? tMin : (k >= bias + tMax ? tMax : k - bias)
                        if q < t { break }
                        output.append(digit(t + (q - t) % (base - t)))
                        q = (q - t) / (base - t)
                        k += base
                    }
                    output.append(digit(q))
                    bias = adapt(delta, handled + 1, handled == basicCount)
                    delta = 0
                    handled += 1
                }
            }
            delta += 1
            n += 1
        }
        return String(output)
    }

    private static func digit(_ value: Int) -> Character {
        Character(Unicode.Scalar(UInt8(value < 26 ? value + 97 : value + 22)))
    }

    private static func adapt(_ delta: Int, _ numPoints: Int, _ firstTime: Bool) -> Int {
        var delta = firstTime ? delta / damp : delta / 2
        delta += delta / numPoints
        var k = 0
        while delta > ((base - tMin) * tMax) / 2 {
            delta /= base - tMin
            k += base
        }
        return k + (base - tMin + 1) * delta / (delta + skew)
    }
}
