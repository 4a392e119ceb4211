#!/usr/bin/env python3
"""Reference parser for address header fields, for differential tests.

    address-oracle.py [--nul] [--all-defects] [--verbose] INPUT [OUTPUT]

Reads From field values from INPUT (JSON lines: one JSON string per line;
with --nul: values separated by NUL bytes, UTF-8) and writes one JSON line
per value to OUTPUT (default: standard output):

    {"ok": bool, "domains": [sorted unique lower-cased domains]}

The value is unfolded as email.policy.default does when it reads a message
(every CR and LF removed) and parsed as a From header by its
header_factory, an email.headerregistry.HeaderRegistry (which uses
email._header_value_parser.get_address_list). "ok" is true when that
raised nothing, recorded no defects, and every address has a domain (a
group with no members is ok and contributes no domain). Domains are
lower-cased, one trailing dot removed.

Defects of type ObsoleteHeaderDefect (RFC 5322 obsolete syntax, which a
reader must accept) and NonASCIILocalPartDefect (RFC 6532 allows UTF-8
local parts; Python flags them only because policy.default has
utf8=False) do not count unless --all-defects is given. --verbose adds the
defect class names and any exception to each output line.

Only the Python standard library is used.
"""
import json
import sys
from email import errors, policy

TOLERATED = (errors.ObsoleteHeaderDefect, errors.NonASCIILocalPartDefect)


def parse(value, all_defects):
    """(ok, domains, defect names, error text) for one field value."""
    try:
        # As email.policy.default reads a header: every CR and LF removed,
        # then the policy's header_factory (a HeaderRegistry).
        header = policy.default.header_fetch_parse("From", value)
        defects = list(header.defects)
        names = [type(d).__name__ for d in defects]
        counted = defects if all_defects else [d for d in defects if not isinstance(d, TOLERATED)]
        domains = set()
        ok = not counted
        for address in header.addresses:
            domain = address.domain or ""
            if not domain:
                ok = False
                continue
            if any("\ud800" <= c <= "\udfff" for c in domain):
                # Undecodable bytes (from an encoded word) surrogate-escaped:
                # not a clean parse, and not valid in JSON text either.
                ok = False
                domain = domain.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
            domain = domain.lower()
            if domain.endswith("."):
                domain = domain[:-1]
            domains.add(domain)
        return ok, sorted(domains), names, None
    except Exception as exc:  # the parser has crashed on odd input before
        text = "%s: %s" % (type(exc).__name__, exc)
        return False, [], [], text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")


def read_values(path, nul):
    with open(path, "rb") as f:
        data = f.read()
    if nul:
        parts = data.split(b"\0")
        if parts and parts[-1] == b"":
            parts.pop()
        return [p.decode("utf-8", "surrogateescape") for p in parts]
    # split("\n"), not splitlines(): a JSON string may hold U+2028 or U+0085 unescaped.
    return [json.loads(line) for line in data.decode("utf-8").split("\n") if line.strip()]


def main(argv):
    args = [a for a in argv if not a.startswith("--")]
    flags = {a for a in argv if a.startswith("--")}
    unknown = flags - {"--nul", "--all-defects", "--verbose"}
    if unknown or not 1 <= len(args) <= 2:
        sys.stderr.write(__doc__)
        return 2
    values = read_values(args[0], "--nul" in flags)
    out = open(args[1], "w", encoding="utf-8") if len(args) == 2 else sys.stdout
    try:
        for value in values:
            ok, domains, names, error = parse(value, "--all-defects" in flags)
            record = {"ok": ok, "domains": domains}
            if "--verbose" in flags:
                record["defects"] = names
                if error:
                    record["error"] = error
            out.write(json.dumps(record) + "\n")
    finally:
        if out is not sys.stdout:
            out.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
