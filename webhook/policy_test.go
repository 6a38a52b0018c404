package webhook

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

func TestCheckAddrDefaultPolicy(t *testing.T) {
	t.Parallel()

	tests := []struct {
		addr string
		// blocked is the prefix expected in the error ("" means allowed).
		blocked string
	}{
		// IPv4 blocked ranges.
		{"0.0.0.0", "0.0.0.0/8"},
		{"0.1.2.3", "0.0.0.0/8"},
		{"10.1.2.3", "10.0.0.0/8"},
		{"100.64.0.1", "100.64.0.0/10"},
		{"100.100.100.200", "100.64.0.0/10"}, // Alibaba Cloud metadata
		{"127.0.0.1", "127.0.0.0/8"},
		{"127.255.255.254", "127.0.0.0/8"},
		{"169.254.169.254", "169.254.0.0/16"},
		{"172.16.0.1", "172.16.0.0/12"},
		{"172.31.255.255", "172.16.0.0/12"},
		{"192.0.0.8", "192.0.0.0/24"},
		{"192.0.2.1", "192.0.2.0/24"},
		{"192.88.99.1", "192.88.99.0/24"},
		{"192.168.1.1", "192.168.0.0/16"},
		{"198.18.0.1", "198.18.0.0/15"},
		{"198.19.255.255", "198.18.0.0/15"},
		{"198.51.100.7", "198.51.100.0/24"},
		{"203.0.113.9", "203.0.113.0/24"},
		{"224.0.0.1", "224.0.0.0/4"},
		{"239.255.255.250", "224.0.0.0/4"},
		{"240.0.0.1", "240.0.0.0/4"},
		{"255.255.255.255", "255.255.255.255/32"},
		{"168.63.129.16", "168.63.129.16/32"},

		// IPv4 public neighbours of blocked ranges.
		{"8.8.8.8", ""},
		{"93.184.216.34", ""},
		{"1.1.1.1", ""},
		{"9.255.255.255", ""},
		{"11.0.0.0", ""},
		{"100.63.255.255", ""},
		{"100.128.0.1", ""},
		{"169.253.255.255", ""},
		{"172.15.255.255", ""},
		{"172.32.0.1", ""},
		{"192.0.1.1", ""},
		{"198.17.255.255", ""},
		{"198.20.0.1", ""},
		{"223.255.255.255", ""},

		// IPv6 blocked ranges.
		{"::", "::/128"},
		{"::1", "::1/128"},
		{"::127.0.0.1", "::/96"},
		{"64:ff9b:1::1", "64:ff9b:1::/48"},
		{"100::1", "100::/64"},
		{"2001::1", "2001::/32"},
		{"2001:0:4136:e378:8000:63bf:3fff:fdd2", "2001::/32"},
		{"2001:2::1", "2001:2::/48"},
		{"2001:10::1", "2001::/23"},
		{"2001:db8::1", "2001:db8::/32"},
		{"3fff::1", "3fff::/20"},
		{"5f00::1", "5f00::/16"},
		{"fc00::1", "fc00::/7"},
		{"fd00:ec2::254", "fc00::/7"}, // AWS IMDS over IPv6
		{"fe80::1", "fe80::/10"},
		{"fe80::1%eth0", "fe80::/10"},
		{"fec0::1", "fec0::/10"},
		{"ff02::1", "ff00::/8"},
		{"1::1", "2000::/3"},
		{"4000::1", "2000::/3"},
		{"e000::1", "2000::/3"},

		// Embedded IPv4: the verdict follows the IPv4 address.
		{"::ffff:127.0.0.1", "127.0.0.0/8"},
		{"::ffff:10.0.0.1", "10.0.0.0/8"},
		{"::ffff:169.254.169.254", "169.254.0.0/16"},
		{"::ffff:0.0.0.0", "0.0.0.0/8"},
		{"64:ff9b::7f00:1", "127.0.0.0/8"},
		{"64:ff9b::a9fe:a9fe", "169.254.0.0/16"},
		{"2002:7f00:1::1", "127.0.0.0/8"},
		{"2002:a00:1::", "10.0.0.0/8"},
		{"2002:a9fe:a9fe::", "169.254.0.0/16"},
		{"::ffff:8.8.8.8", ""},
		{"64:ff9b::808:808", ""},
		{"2002:808:808::1", ""},

		// IPv6 public.
		{"2606:4700:4700::1111", ""},
		{"2a00:1450:4001:80b::200e", ""},
		{"2001:4860:4860::8888", ""},
		{"2001:200::1", ""}, // just past 2001::/23
	}
	var p TargetPolicy
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			t.Parallel()
			err := p.CheckAddr(netip.MustParseAddr(tt.addr))
			if tt.blocked == "" {
				if err != nil {
					t.Fatalf("CheckAddr(%s) = %v, want allowed", tt.addr, err)
				}
				return
			}
			if !errors.Is(err, ErrForbiddenTarget) {
				t.Fatalf("CheckAddr(%s) = %v, want ErrForbiddenTarget", tt.addr, err)
			}
			var fe *ForbiddenAddrError
			if !errors.As(err, &fe) {
				t.Fatalf("CheckAddr(%s) error %T is not *ForbiddenAddrError", tt.addr, err)
			}
			if got := fe.Prefix.String(); got != tt.blocked {
				t.Errorf("CheckAddr(%s) matched %s (%s), want %s", tt.addr, got, fe.Range, tt.blocked)
			}
			if !strings.Contains(err.Error(), tt.blocked) {
				t.Errorf("error %q does not name the range %s", err, tt.blocked)
			}
		})
	}
}

func TestCheckAddrInvalid(t *testing.T) {
	t.Parallel()
	for _, p := range []TargetPolicy{{}, {AllowPrivate: true}} {
		if err := p.CheckAddr(netip.Addr{}); !errors.Is(err, ErrForbiddenTarget) {
			t.Errorf("%+v: CheckAddr(zero) = %v, want ErrForbiddenTarget", p, err)
		}
	}
}

func TestCheckAddrEmbeddedMessage(t *testing.T) {
	t.Parallel()
	err := TargetPolicy{}.CheckAddr(netip.MustParseAddr("2002:7f00:1::1"))
	want := "webhook target address is not allowed: 2002:7f00:1::1 embeds 127.0.0.1 (6to4), which is in blocked range 127.0.0.0/8 (loopback)"
	if err == nil || err.Error() != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}
}

func TestCheckAddrWithAllowlist(t *testing.T) {
	t.Parallel()

	loopback := TargetPolicy{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
	internal := TargetPolicy{Allow: []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("fd00::/8"),
		netip.MustParsePrefix("169.254.169.254/32"),
	}}
	all := TargetPolicy{AllowPrivate: true}

	tests := []struct {
		name    string
		policy  TargetPolicy
		addr    string
		allowed bool
	}{
		{"loopback v4", loopback, "127.0.0.1", true},
		{"loopback v4 other", loopback, "127.8.9.10", true},
		{"loopback mapped", loopback, "::ffff:127.0.0.1", true},
		{"loopback via NAT64", loopback, "64:ff9b::7f00:1", true},
		{"loopback v6 not listed", loopback, "::1", false},
		{"private not listed", loopback, "10.0.0.1", false},
		{"public still fine", loopback, "8.8.8.8", true},
		{"internal 10/8", internal, "10.2.3.4", true},
		{"internal ULA", internal, "fd12::1", true},
		{"internal other ULA", internal, "fc00::1", false},
		{"internal exact host", internal, "169.254.169.254", true},
		{"internal neighbour host", internal, "169.254.169.253", false},
		{"internal 192.168", internal, "192.168.0.1", false},
		{"all loopback", all, "127.0.0.1", true},
		{"all v6 loopback", all, "::1", true},
		{"all link-local", all, "fe80::1", true},
		{"all multicast", all, "ff02::1", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.policy.CheckAddr(netip.MustParseAddr(tt.addr))
			if tt.allowed && err != nil {
				t.Errorf("CheckAddr(%s) = %v, want allowed", tt.addr, err)
			}
			if !tt.allowed && !errors.Is(err, ErrForbiddenTarget) {
				t.Errorf("CheckAddr(%s) = %v, want ErrForbiddenTarget", tt.addr, err)
			}
		})
	}
}

func TestControl(t *testing.T) {
	t.Parallel()

	tests := []struct {
		network, address string
		allowed          bool
	}{
		{"tcp4", "8.8.8.8:443", true},
		{"tcp6", "[2606:4700:4700::1111]:443", true},
		{"tcp4", "127.0.0.1:80", false},
		{"tcp6", "[::1]:80", false},
		{"tcp6", "[::ffff:169.254.169.254]:80", false},
		{"tcp6", "[fe80::1%eth0]:80", false},
		{"udp4", "8.8.8.8:53", false},
		{"unix", "/run/docker.sock", false},
		{"tcp4", "not-an-address", false},
	}
	var p TargetPolicy
	for _, tt := range tests {
		err := p.Control(tt.network, tt.address, nil)
		if tt.allowed && err != nil {
			t.Errorf("Control(%s, %s) = %v, want nil", tt.network, tt.address, err)
		}
		if !tt.allowed && !errors.Is(err, ErrForbiddenTarget) {
			t.Errorf("Control(%s, %s) = %v, want ErrForbiddenTarget", tt.network, tt.address, err)
		}
	}
}

func TestCheckURL(t *testing.T) {
	t.Parallel()

	loopback := TargetPolicy{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
	tests := []struct {
		name   string
		policy TargetPolicy
		url    string
		want   error  // nil, ErrInvalidURL or ErrForbiddenTarget
		rule   string // a substring the message must contain
	}{
		{"public https", TargetPolicy{}, "https://example.com/hook", nil, ""},
		{"public IP with port", TargetPolicy{}, "https://93.184.216.34:8443/x", nil, ""},
		{"http with query", TargetPolicy{}, "http://example.com:8080/a?b=c", nil, ""},
		{"public IPv6", TargetPolicy{}, "https://[2606:4700:4700::1111]/", nil, ""},
		{"trailing dot", TargetPolicy{}, "https://hooks.example.co.uk./path", nil, ""},
		{"punycode", TargetPolicy{}, "https://xn--bcher-kva.example/", nil, ""},
		{"leading digit label", TargetPolicy{}, "https://1password.com/", nil, ""},
		{"underscore label", TargetPolicy{}, "https://my_service.example.com/", nil, ""},
		{"fragment", TargetPolicy{}, "https://example.com/#frag", nil, ""},
		{"upper-case scheme", TargetPolicy{}, "HTTPS://Example.COM/", nil, ""},

		{"loopback IPv4", TargetPolicy{}, "http://127.0.0.1", ErrForbiddenTarget, "127.0.0.0/8"},
		{"loopback IPv6", TargetPolicy{}, "http://[::1]", ErrForbiddenTarget, "::1/128"},
		{"metadata", TargetPolicy{}, "http://169.254.169.254/latest/meta-data", ErrForbiddenTarget, "169.254.0.0/16"},
		{"mapped loopback", TargetPolicy{}, "http://[::ffff:127.0.0.1]", ErrForbiddenTarget, "127.0.0.0/8"},
		{"mapped metadata hex", TargetPolicy{}, "http://[::ffff:a9fe:a9fe]/", ErrForbiddenTarget, "169.254.0.0/16"},
		{"NAT64 loopback", TargetPolicy{}, "http://[64:ff9b::7f00:1]/", ErrForbiddenTarget, "127.0.0.0/8"},
		{"private", TargetPolicy{}, "http://10.0.0.1", ErrForbiddenTarget, "10.0.0.0/8"},
		{"unspecified", TargetPolicy{}, "http://0.0.0.0:8080/", ErrForbiddenTarget, "0.0.0.0/8"},
		{"localhost", TargetPolicy{}, "http://localhost:8080", ErrForbiddenTarget, "localhost"},
		{"sub.localhost", TargetPolicy{}, "http://api.localhost/", ErrForbiddenTarget, "localhost"},
		{"LOCALHOST.", TargetPolicy{}, "http://LOCALHOST./", ErrForbiddenTarget, "localhost"},

		{"hex IPv4", TargetPolicy{}, "http://0x7f000001", ErrInvalidURL, "numeric host"},
		{"decimal IPv4", TargetPolicy{}, "http://2130706433", ErrInvalidURL, "numeric host"},
		{"mixed hex", TargetPolicy{}, "http://0x7f.1", ErrInvalidURL, "numeric host"},
		{"short IPv4", TargetPolicy{}, "http://127.1", ErrInvalidURL, "numeric host"},
		{"octal IPv4", TargetPolicy{}, "http://0177.0.0.1", ErrInvalidURL, "numeric host"},
		{"leading zero", TargetPolicy{}, "http://127.0.0.01/", ErrInvalidURL, "numeric host"},
		{"numeric TLD", TargetPolicy{}, "http://example.123/", ErrInvalidURL, "numeric host"},
		{"ftp", TargetPolicy{}, "ftp://x", ErrInvalidURL, "scheme"},
		{"relative", TargetPolicy{}, "relative/path", ErrInvalidURL, "absolute"},
		{"opaque", TargetPolicy{}, "http:example.com", ErrInvalidURL, "absolute"},
		{"mailto", TargetPolicy{}, "mailto:ops@example.com", ErrInvalidURL, "absolute"},
		{"empty", TargetPolicy{}, "", ErrInvalidURL, "absolute"},
		{"userinfo", TargetPolicy{}, "https://user:pw@example.com", ErrInvalidURL, "user info"},
		{"user only", TargetPolicy{}, "https://user@example.com", ErrInvalidURL, "user info"},
		{"port zero", TargetPolicy{}, "https://example.com:0/", ErrInvalidURL, "port"},
		{"port too big", TargetPolicy{}, "https://example.com:65536/", ErrInvalidURL, "port"},
		{"no host", TargetPolicy{}, "http:///path", ErrInvalidURL, "host is missing"},
		{"whitespace", TargetPolicy{}, " https://example.com", ErrInvalidURL, "whitespace"},
		{"zone", TargetPolicy{}, "https://[fe80::1%25eth0]/", ErrInvalidURL, "zone"},
		{"empty label", TargetPolicy{}, "https://a..example.com/", ErrInvalidURL, "empty label"},
		{"non-ASCII", TargetPolicy{}, "https://bücher.example/", ErrInvalidURL, "punycode"},
		{"bad character", TargetPolicy{}, "https://exa$mple.com/", ErrInvalidURL, "contains"},
		{"long label", TargetPolicy{}, "https://" + strings.Repeat("a", 64) + ".com/", ErrInvalidURL, "63"},
		{"bad escape", TargetPolicy{}, "https://example.com/%zz", ErrInvalidURL, "escape"},

		{"https required", TargetPolicy{RequireHTTPS: true}, "http://example.com/", ErrForbiddenTarget, "https is required"},
		{"https required ok", TargetPolicy{RequireHTTPS: true}, "https://example.com/", nil, ""},
		{"allowlisted loopback", loopback, "http://127.0.0.1:8080/", nil, ""},
		{"allowlisted localhost", loopback, "http://localhost:8080/", nil, ""},
		{"allowlist keeps private", loopback, "http://10.0.0.1/", ErrForbiddenTarget, "10.0.0.0/8"},
		{"allowlist keeps numeric ban", loopback, "http://2130706433/", ErrInvalidURL, "numeric host"},
		{"allow private localhost", TargetPolicy{AllowPrivate: true}, "http://localhost/", nil, ""},
		{"allow private 10/8", TargetPolicy{AllowPrivate: true}, "http://10.0.0.1/", nil, ""},
		{"allow private numeric ban", TargetPolicy{AllowPrivate: true}, "http://0x7f000001/", ErrInvalidURL, "numeric host"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.policy.CheckURL(tt.url)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("CheckURL(%q) = %v, want nil", tt.url, err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("CheckURL(%q) = %v, want %v", tt.url, err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.rule) {
				t.Errorf("CheckURL(%q) = %q, want the message to name %q", tt.url, err, tt.rule)
			}
		})
	}
}

func TestParseAllowPrivate(t *testing.T) {
	t.Parallel()

	tests := []struct {
		in       string
		all      bool
		prefixes []string
		errItem  string // non-empty: an error naming this item is expected
	}{
		{in: "true", all: true},
		{in: "TRUE", all: true},
		{in: " 1 ", all: true},
		{in: ""},
		{in: "false"},
		{in: "0"},
		{in: "10.0.0.0/8", prefixes: []string{"10.0.0.0/8"}},
		{in: "10.0.0.0/8, 192.168.1.5", prefixes: []string{"10.0.0.0/8", "192.168.1.5/32"}},
		{in: "fd00::/8,::1", prefixes: []string{"fd00::/8", "::1/128"}},
		{in: "10.1.2.3/8", prefixes: []string{"10.0.0.0/8"}},
		{in: "::ffff:10.0.0.0/104", prefixes: []string{"10.0.0.0/8"}},
		{in: "10.0.0.0/8,", prefixes: []string{"10.0.0.0/8"}},
		{in: "yes", errItem: "yes"},
		{in: "10.0.0.0/33", errItem: "10.0.0.0/33"},
		{in: "10.0.0.0/8,bogus", errItem: "bogus"},
		{in: "fe80::1%eth0", errItem: "fe80::1%eth0"},
		{in: ",", errItem: "no prefixes"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			all, prefixes, err := ParseAllowPrivate(tt.in)
			if tt.errItem != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errItem) {
					t.Fatalf("ParseAllowPrivate(%q) error = %v, want one naming %q", tt.in, err, tt.errItem)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseAllowPrivate(%q): %v", tt.in, err)
			}
			var got []string
			for _, p := range prefixes {
				got = append(got, p.String())
			}
			if all != tt.all || !slices.Equal(got, tt.prefixes) {
				t.Errorf("ParseAllowPrivate(%q) = %v, %v; want %v, %v", tt.in, all, got, tt.all, tt.prefixes)
			}
		})
	}
}

func BenchmarkCheckAddr(b *testing.B) {
	p := TargetPolicy{}
	addrs := []netip.Addr{
		netip.MustParseAddr("93.184.216.34"),
		netip.MustParseAddr("2606:4700:4700::1111"),
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if err := p.CheckAddr(addrs[i%len(addrs)]); err != nil {
			b.Fatal(err)
		}
	}
}
