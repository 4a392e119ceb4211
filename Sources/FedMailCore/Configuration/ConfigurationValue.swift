/// Typed readings of a configuration entry's value. Each throws a
/// ``ConfigurationError`` `badValue` naming the file and line.
extension ConfigurationFile {
    /// `yes`/`no`, `true`/`false`, `on`/`off`, `1`/`0` (case-insensitive).
    public func bool(_ entry: ConfigurationEntry) throws(ConfigurationError) -> Bool {
        switch entry.value.lowercased() {
        case "yes", "true", "on", "1": return true
        case "no", "false", "off", "0": return false
        default:
            throw error(.badValue, at: entry, "'\(entry.name)' must be yes or no, not '\(entry.value)'")
        }
    }

    /// A decimal integer within `range`.
    public func integer(_ entry: ConfigurationEntry, in range: ClosedRange<Int>) throws(ConfigurationError) -> Int {
        guard let number = Int(entry.value), range.contains(number) else {
            throw error(.badValue, at: entry,
                        "'\(entry.name)' must be a whole number from \(range.lowerBound) to \(range.upperBound), not '\(entry.value)'")
        }
        return number
    }

    /// A duration in seconds: a number followed by an optional unit
    /// `s`, `m`, `h` or `d` (no unit means seconds), e.g. `30s`, `5m`, `24h`, `5d`.
    public func duration(_ entry: ConfigurationEntry, in range: ClosedRange<Int> = 0...(100 * 365 * 86_400)) throws(ConfigurationError) -> Int {
        let value = entry.value.lowercased()
        let units: [Character: Int] = ["s": 1, "m": 60, "h": 3_600, "d": 86_400]
        var digits = Substring(value)
        var multiplier = 1
        if let last = value.last, let unit = units[last] {
            digits = digits.dropLast()
            multiplier = unit
        }
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }),
              let number = Int(digits), number <= range.upperBound / multiplier,
              range.contains(number * multiplier) else {
            throw error(.badValue, at: entry,
                        "'\(entry.name)' must be a duration like 30s, 5m, 24h or 5d within \(range.lowerBound)s to \(range.upperBound)s, not '\(entry.value)'")
        }
        return number * multiplier
    }

    /// A list separated by commas and/or white space, without empty items.
    public func list(_ entry: ConfigurationEntry) -> [String] {
        entry.value.split(whereSeparator: { $0 == "," || $0 == " " || $0 == "\t" }).map(String.init)
    }

    /// A list of IP addresses and CIDR networks (`InternalHosts`,
    /// `UpstreamScanHosts`): every item must be one.
    public func networks(_ entry: ConfigurationEntry) throws(ConfigurationError) -> [IPNetwork] {
        var networks: [IPNetwork] = []
        for item in list(entry) {
            guard let network = IPNetwork(item) else {
                throw error(.badValue, at: entry, "'\(entry.name)': '\(item)' is not an IP address or CIDR network")
            }
            networks.append(network)
        }
        return networks
    }

    /// One of `choices` (case-insensitive); returns the choice as listed.
    public func choice(_ entry: ConfigurationEntry, of choices: [String]) throws(ConfigurationError) -> String {
        if let match = choices.first(where: { $0.lowercased() == entry.value.lowercased() }) {
            return match
        }
        throw error(.badValue, at: entry,
                    "'\(entry.name)' must be one of \(choices.joined(separator: ", ")), not '\(entry.value)'")
    }

    /// An octal file-creation mask such as `007` or `0027`.
    public func umask(_ entry: ConfigurationEntry) throws(ConfigurationError) -> UInt16 {
        guard entry.value.count <= 4, let mask = UInt16(entry.value, radix: 8), mask <= 0o777 else {
            throw error(.badValue, at: entry, "'\(entry.name)' must be an octal mask such as 007, not '\(entry.value)'")
        }
        return mask
    }
}
