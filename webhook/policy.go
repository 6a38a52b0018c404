package webhook

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
)

// ErrForbiddenTarget is returned (wrapped) when a target is refused by the
// [TargetPolicy]: its address is in a blocked range, its host is a localhost
// name, or it is plain http while https is required. Callers branch on it with
// errors.Is; [*ForbiddenAddrError] carries the details for address checks.
var ErrForbiddenTarget = errors.New("webhook target address is not allowed")

// ErrInvalidURL is returned (wrapped) by [TargetPolicy.CheckURL] when the URL
// is malformed or not usable as a webhook target. The wrapping message names
// the rule that failed.
var ErrInvalidURL = errors.New("invalid webhook URL")

// ForbiddenAddrError reports an address refused by [TargetPolicy.CheckAddr].
// It unwraps to [ErrForbiddenTarget].
type ForbiddenAddrError struct {
	// Addr is the address that was checked.
	Addr netip.Addr
	// Embedded is the IPv4 address carried inside Addr (IPv4-mapped, NAT64,
	// 6to4) when that embedded address is what was refused; otherwise it is
	// the zero Addr.
	Embedded netip.Addr
	// Via names the embedding format when Embedded is set, e.g. "6to4".
	Via string
	// Prefix is the blocked range that matched.
	Prefix netip.Prefix
	// Range is a human name for Prefix, e.g. "loopback".
	Range string
}

// Error names the address and the blocked range, e.g.
// "webhook target address is not allowed: 127.0.0.1 is in blocked range 127.0.0.0/8 (loopback)".
func (e *ForbiddenAddrError) Error() string {
	if e.Embedded.IsValid() {
		return fmt.Sprintf("%v: %v embeds %v (%s), which is in blocked range %v (%s)",
			ErrForbiddenTarget, e.Addr, e.Embedded, e.Via, e.Prefix, e.Range)
	}
	return fmt.Sprintf("%v: %v is in blocked range %v (%s)", ErrForbiddenTarget, e.Addr, e.Prefix, e.Range)
}

// Unwrap returns [ErrForbiddenTarget] so errors.Is works on every refusal.
func (e *ForbiddenAddrError) Unwrap() error { return ErrForbiddenTarget }

// TargetPolicy decides which webhook targets may be contacted. The zero value
// is the production policy: every non-public address is refused, http and
// https are both accepted.
type TargetPolicy struct {
	// AllowPrivate turns every address check off. Meant for development and
	// tests, where receivers run on loopback or a private network.
	AllowPrivate bool
	// Allow lists prefixes that are accepted even though they fall in a
	// blocked range, e.g. an internal network that self-hosters deliver to.
	Allow []netip.Prefix
	// RequireHTTPS refuses plain http targets.
	RequireHTTPS bool
}

// blockedRange is one refused prefix. For IPv6 transition prefixes that carry
// an IPv4 address, embedded extracts it so the verdict follows the IPv4
// address instead of refusing the whole prefix.
type blockedRange struct {
	prefix   netip.Prefix
	name     string
	embedded func(netip.Addr) netip.Addr
}

func blocked(cidr, name string) blockedRange {
	return blockedRange{prefix: netip.MustParsePrefix(cidr), name: name}
}

// blockedV4 follows the IANA IPv4 special-purpose registry: everything that is
// not globally reachable, plus cloud endpoints that only answer from inside
// the cloud. Order matters only for naming: the first match is reported.
var blockedV4 = []blockedRange{
	blocked("0.0.0.0/8", "unspecified, \"this network\""),
	blocked("10.0.0.0/8", "private"),
	blocked("100.64.0.0/10", "carrier-grade NAT"),
	blocked("127.0.0.0/8", "loopback"),
	blocked("169.254.0.0/16", "link-local, cloud metadata"),
	blocked("172.16.0.0/12", "private"),
	blocked("192.0.0.0/24", "IETF protocol assignments"),
	blocked("192.0.2.0/24", "documentation, TEST-NET-1"),
	blocked("192.88.99.0/24", "6to4 relay anycast"),
	blocked("192.168.0.0/16", "private"),
	blocked("198.18.0.0/15", "benchmarking"),
	blocked("198.51.100.0/24", "documentation, TEST-NET-2"),
	blocked("203.0.113.0/24", "documentation, TEST-NET-3"),
	blocked("224.0.0.0/4", "multicast"),
	blocked("255.255.255.255/32", "limited broadcast"),
	blocked("240.0.0.0/4", "reserved"),
	// Azure's WireServer is a public address that only answers from inside
	// Azure VMs and serves host configuration: a metadata endpoint in effect.
	blocked("168.63.129.16/32", "cloud platform endpoint"),
}

// blockedV6 lists the special IPv6 ranges. IPv4-mapped addresses are unmapped
// before this table is consulted, and anything outside 2000::/3 that no entry
// names is refused by the global-unicast rule in CheckAddr.
var blockedV6 = []blockedRange{
	blocked("::/128", "unspecified"),
	blocked("::1/128", "loopback"),
	// DNS64 synthesises 64:ff9b::/96 addresses for IPv4-only hosts, so
	// refusing the whole prefix would break delivery from IPv6-only networks;
	// the verdict follows the IPv4 address in the low 32 bits (RFC 6052).
	{prefix: netip.MustParsePrefix("64:ff9b::/96"), name: "NAT64", embedded: lowV4},
	// Local-use NAT64 may embed IPv4 at any RFC 6052 offset, so the address
	// cannot be recovered reliably: refuse it.
	blocked("64:ff9b:1::/48", "local-use NAT64"),
	blocked("::/96", "IPv4-compatible, deprecated"),
	blocked("100::/64", "discard-only"),
	// Teredo hides the IPv4 server and client addresses (the client one
	// obfuscated), which leaves nothing reliable to check.
	blocked("2001::/32", "Teredo"),
	blocked("2001:2::/48", "benchmarking"),
	blocked("2001::/23", "IETF protocol assignments"),
	blocked("2001:db8::/32", "documentation"),
	{prefix: netip.MustParsePrefix("2002::/16"), name: "6to4", embedded: sixToFourV4},
	blocked("3fff::/20", "documentation"),
	blocked("5f00::/16", "segment routing SIDs"),
	// Unique-local also covers AWS's IPv6 metadata endpoint fd00:ec2::254.
	blocked("fc00::/7", "unique local"),
	blocked("fe80::/10", "link-local"),
	blocked("fec0::/10", "site-local, deprecated"),
	blocked("ff00::/8", "multicast"),
}

var globalUnicastV6 = netip.MustParsePrefix("2000::/3")

// lowV4 returns the IPv4 address in the last 32 bits of a.
func lowV4(a netip.Addr) netip.Addr {
	b := a.As16()
	return netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]})
}

// sixToFourV4 returns the IPv4 address in bits 16-47 of a 2002::/16 address.
func sixToFourV4(a netip.Addr) netip.Addr {
	b := a.As16()
	return netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]})
}

// CheckAddr reports whether a may be connected to. It returns nil when the
// address is public (or allowed by the policy), and otherwise a
// [*ForbiddenAddrError] naming the blocked range. Addresses that embed an IPv4
// address (IPv4-mapped, NAT64 64:ff9b::/96, 6to4) are judged by the embedded
// address; IPv6 outside 2000::/3 is refused.
func (p TargetPolicy) CheckAddr(a netip.Addr) error {
	if !a.IsValid() {
		return fmt.Errorf("%w: invalid address", ErrForbiddenTarget)
	}
	if p.AllowPrivate {
		return nil
	}
	// A zone only selects an interface; the address decides the range.
	return p.check(a.WithZone(""))
}

func (p TargetPolicy) check(a netip.Addr) error {
	if p.allowed(a) {
		return nil
	}
	if a.Is4In6() {
		return p.checkEmbedded(a, a.Unmap(), "IPv4-mapped")
	}
	if a.Is4() {
		for _, r := range blockedV4 {
			if r.prefix.Contains(a) {
				return &ForbiddenAddrError{Addr: a, Prefix: r.prefix, Range: r.name}
			}
		}
		return nil
	}
	for _, r := range blockedV6 {
		if !r.prefix.Contains(a) {
			continue
		}
		if r.embedded != nil {
			return p.checkEmbedded(a, r.embedded(a), r.name)
		}
		return &ForbiddenAddrError{Addr: a, Prefix: r.prefix, Range: r.name}
	}
	if !globalUnicastV6.Contains(a) {
		return &ForbiddenAddrError{Addr: a, Prefix: globalUnicastV6, Range: "outside IPv6 global unicast"}
	}
	return nil
}

// checkEmbedded judges outer by the IPv4 address it carries, and reports a
// refusal in terms of both addresses so the message explains itself.
func (p TargetPolicy) checkEmbedded(outer, v4 netip.Addr, via string) error {
	err := p.check(v4)
	var fe *ForbiddenAddrError
	if errors.As(err, &fe) {
		return &ForbiddenAddrError{Addr: outer, Embedded: v4, Via: via, Prefix: fe.Prefix, Range: fe.Range}
	}
	return err
}

func (p TargetPolicy) allowed(a netip.Addr) bool {
	for _, pr := range p.Allow {
		if pr.Contains(a) {
			return true
		}
	}
	return false
}

// Control is a [net.Dialer] Control function enforcing the policy on the
// address actually being dialled, after DNS resolution. Because it runs for
// every connection attempt on the resolved IP, the checked address is the
// connected address: there is no gap for DNS rebinding. Other Herald HTTP
// clients that contact user-supplied URLs should use it too.
func (p TargetPolicy) Control(network, address string, _ syscall.RawConn) error {
	switch network {
	case "tcp4", "tcp6":
	default:
		return fmt.Errorf("%w: network %q", ErrForbiddenTarget, network)
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: unparsable dial address %q: %v", ErrForbiddenTarget, address, err)
	}
	return p.CheckAddr(ap.Addr())
}

// CheckURL validates a webhook endpoint URL when it is created or changed: an
// absolute http or https URL with a host, no user info, and a port in
// 1-65535. Hosts that are IP literals are checked with [TargetPolicy.CheckAddr];
// "localhost" and "*.localhost" are refused; numeric hosts that are not
// canonical dotted-quad IPv4 (2130706433, 0x7f.1, 127.1, 0177.0.0.1) are
// refused outright because resolvers disagree on what they mean. Errors wrap
// [ErrInvalidURL] or [ErrForbiddenTarget] and name the rule that failed.
//
// CheckURL cannot see what a hostname will resolve to; the [Sender] checks the
// resolved address at dial time.
func (p TargetPolicy) CheckURL(raw string) error {
	if strings.TrimSpace(raw) != raw {
		return fmt.Errorf("%w: leading or trailing whitespace", ErrInvalidURL)
	}
	u, err := url.Parse(raw)
	if err != nil {
		// url.Error repeats the whole URL; the inner error is enough.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("%w: %v", ErrInvalidURL, err)
	}
	if u.Scheme == "" || u.Opaque != "" {
		return fmt.Errorf("%w: must be an absolute http or https URL", ErrInvalidURL)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("%w: scheme %q is not http or https", ErrInvalidURL, u.Scheme)
	}
	if p.RequireHTTPS && u.Scheme != "https" {
		return fmt.Errorf("%w: https is required", ErrForbiddenTarget)
	}
	if u.User != nil {
		return fmt.Errorf("%w: user info (user:password@) is not allowed; send credentials in headers", ErrInvalidURL)
	}
	if port := u.Port(); port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("%w: port %q is not in 1-65535", ErrInvalidURL, port)
		}
	}
	host := u.Hostname()
	if host == "" {
		return fmt.Errorf("%w: host is missing", ErrInvalidURL)
	}
	return p.checkHost(host)
}

// CheckHost applies the host rules of [TargetPolicy.CheckURL] to a bare
// host name or IP address (no scheme or port; an IPv6 address may be
// bracketed), for targets that are not URLs, such as an SMTP server. Errors
// wrap [ErrInvalidURL] or [ErrForbiddenTarget].
func (p TargetPolicy) CheckHost(host string) error {
	if host == "" || strings.TrimSpace(host) != host {
		return fmt.Errorf("%w: host is empty or has surrounding whitespace", ErrInvalidURL)
	}
	if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		host = host[1 : len(host)-1]
	}
	return p.checkHost(host)
}

// checkHost applies the host rules of CheckURL to a host without brackets or
// port.
func (p TargetPolicy) checkHost(host string) error {
	if strings.Contains(host, ":") {
		a, err := netip.ParseAddr(host)
		if err != nil {
			return fmt.Errorf("%w: host %q is not a valid IPv6 address", ErrInvalidURL, host)
		}
		if a.Zone() != "" {
			return fmt.Errorf("%w: IPv6 zone %q is not allowed", ErrInvalidURL, a.Zone())
		}
		return p.CheckAddr(a)
	}
	name := strings.ToLower(strings.TrimSuffix(host, "."))
	if a, err := netip.ParseAddr(name); err == nil {
		return p.CheckAddr(a)
	}
	if endsInNumber(name) {
		return fmt.Errorf("%w: numeric host %q is not a dotted-quad IPv4 address", ErrInvalidURL, host)
	}
	if err := checkHostname(name); err != nil {
		return err
	}
	if name == "localhost" || strings.HasSuffix(name, ".localhost") {
		// localhost names resolve to loopback (RFC 6761); accept them only
		// when loopback itself is allowed.
		if p.CheckAddr(netip.IPv6Loopback()) == nil || p.CheckAddr(netip.AddrFrom4([4]byte{127, 0, 0, 1})) == nil {
			return nil
		}
		return fmt.Errorf("%w: host %q is a localhost name", ErrForbiddenTarget, host)
	}
	return nil
}

// endsInNumber reports whether the last label of name is a number, decimal or
// 0x-hex. The WHATWG URL standard (and inet_aton) parse such hosts as IPv4 in
// shorthand or octal/hex forms, while Go's resolver treats them as names: the
// ambiguity is exactly what SSRF payloads exploit, and no real domain has a
// numeric top-level label.
func endsInNumber(name string) bool {
	last := name[strings.LastIndexByte(name, '.')+1:]
	if last == "" {
		return false
	}
	if hex, ok := strings.CutPrefix(last, "0x"); ok {
		return strings.Trim(hex, "0123456789abcdef") == ""
	}
	return strings.Trim(last, "0123456789") == ""
}

// checkHostname enforces DNS name syntax: ASCII letters, digits, '-' and '_'
// (seen in real service names), labels of 1-63 characters, 253 in total.
// Non-ASCII names must be sent in punycode so what is checked is what is
// resolved.
func checkHostname(name string) error {
	if len(name) > 253 {
		return fmt.Errorf("%w: host name is longer than 253 characters", ErrInvalidURL)
	}
	for label := range strings.SplitSeq(name, ".") {
		if label == "" {
			return fmt.Errorf("%w: host %q has an empty label", ErrInvalidURL, name)
		}
		if len(label) > 63 {
			return fmt.Errorf("%w: host label %q is longer than 63 characters", ErrInvalidURL, label)
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if c >= 0x80 {
				return fmt.Errorf("%w: host %q is not ASCII; use its punycode (xn--) form", ErrInvalidURL, name)
			}
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return fmt.Errorf("%w: host %q contains %q", ErrInvalidURL, name, c)
			}
		}
	}
	return nil
}

// ParseAllowPrivate parses the HERALD_ALLOW_PRIVATE_TARGETS setting. "true" or
// "1" allows every address (allowAll); "false", "0" or "" allows none;
// anything else is a comma-separated list of CIDR prefixes or bare IP
// addresses, returned as prefixes. The error names the item that failed.
func ParseAllowPrivate(s string) (allowAll bool, prefixes []netip.Prefix, err error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "1":
		return true, nil, nil
	case "false", "0", "":
		return false, nil, nil
	}
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			// Tolerate "a,,b" and a trailing comma: common in env files.
			continue
		}
		pr, err := parseAllowItem(item)
		if err != nil {
			return false, nil, fmt.Errorf("allow-private targets: item %q: %w", item, err)
		}
		prefixes = append(prefixes, pr)
	}
	if len(prefixes) == 0 {
		return false, nil, fmt.Errorf("allow-private targets: %q has no prefixes; use true, false or a list of CIDRs", s)
	}
	return false, prefixes, nil
}

func parseAllowItem(item string) (netip.Prefix, error) {
	var pr netip.Prefix
	if strings.Contains(item, "/") {
		var err error
		if pr, err = netip.ParsePrefix(item); err != nil {
			return netip.Prefix{}, fmt.Errorf("not a CIDR prefix: %w", err)
		}
	} else {
		a, err := netip.ParseAddr(item)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("not an IP address or CIDR prefix: %w", err)
		}
		if a.Zone() != "" {
			return netip.Prefix{}, errors.New("IPv6 zones are not allowed")
		}
		pr = netip.PrefixFrom(a, a.BitLen())
	}
	// Dialled IPv4 addresses arrive unmapped, so an IPv4-mapped prefix must be
	// turned into its IPv4 form to ever match.
	if pr.Addr().Is4In6() && pr.Bits() >= 96 {
		pr = netip.PrefixFrom(pr.Addr().Unmap(), pr.Bits()-96)
	}
	return pr.Masked(), nil
}
