package pkcs11_test

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/icebox-custody/icebox/hsm/pkcs11"
)

func TestParseURI(t *testing.T) {
	long := "pkcs11:token=t;object=" + strings.Repeat("a", pkcs11.MaxURILen)
	cases := []struct {
		name string
		in   string
		want pkcs11.URI
		err  string // substring of the error; "" means success
	}{
		{name: "ok_full", in: "pkcs11:token=officer-alice;object=alice-approval?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/home/alice/.pin",
			want: pkcs11.URI{Token: "officer-alice", Object: "alice-approval", ModulePath: "/usr/lib/softhsm/libsofthsm2.so", PINFile: "/home/alice/.pin"}},
		{name: "ok_percent_encoding", in: "pkcs11:token=YubiKey%20PIV%20%2312345;object=Key%20for%20Digital%20Signature;id=%02%ff",
			want: pkcs11.URI{Token: "YubiKey PIV #12345", Object: "Key for Digital Signature", ID: []byte{0x02, 0xff}}},
		{name: "ok_id_only_serial_only", in: "pkcs11:serial=0123456789abcdef;id=%01",
			want: pkcs11.URI{Serial: "0123456789abcdef", ID: []byte{1}}},
		{name: "ok_token_and_serial_type_private", in: "PKCS11:token=t;serial=s;object=o;type=private",
			want: pkcs11.URI{Token: "t", Serial: "s", Object: "o"}},
		{name: "ok_pin_source_file_triple_slash", in: "pkcs11:token=t;object=o?pin-source=file:///etc/icebox/pin",
			want: pkcs11.URI{Token: "t", Object: "o", PINFile: "/etc/icebox/pin"}},
		{name: "ok_pin_source_localhost", in: "pkcs11:token=t;object=o?pin-source=file://localhost/p",
			want: pkcs11.URI{Token: "t", Object: "o", PINFile: "/p"}},
		{name: "ok_encoded_semicolon_in_label", in: "pkcs11:token=a%3Bb;object=c%26d",
			want: pkcs11.URI{Token: "a;b", Object: "c&d"}},

		{name: "expfail_not_pkcs11", in: "file:/tmp/alice.key", err: "does not start with pkcs11:"},
		{name: "expfail_too_long", in: long, err: "limit"},
		{name: "expfail_pin_value", in: "pkcs11:token=t;object=o?pin-value=123456", err: `"pin-value": refused`},
		{name: "expfail_pin_source_command", in: "pkcs11:token=t;object=o?pin-source=%7C/bin/echo", err: `"pin-source": only file:`},
		{name: "expfail_pin_source_relative", in: "pkcs11:token=t;object=o?pin-source=file:pin", err: `"pin-source"`},
		{name: "expfail_pin_source_remote", in: "pkcs11:token=t;object=o?pin-source=file://host/pin", err: "remote host"},
		{name: "expfail_module_name", in: "pkcs11:token=t;object=o?module-name=softhsm2", err: `"module-name": not supported`},
		{name: "expfail_module_relative", in: "pkcs11:token=t;object=o?module-path=lib.so", err: "absolute"},
		{name: "expfail_unknown_path_attr", in: "pkcs11:token=t;manufacturer=Yubico;object=o", err: `"manufacturer": path attribute not supported`},
		{name: "expfail_vendor_query_attr", in: "pkcs11:token=t;object=o?x-foo=1", err: `"x-foo"`},
		{name: "expfail_type_public", in: "pkcs11:token=t;object=o;type=public", err: "type=private"},
		{name: "expfail_duplicate", in: "pkcs11:token=t;object=o;object=p", err: "more than once"},
		{name: "expfail_duplicate_case", in: "pkcs11:token=t;object=o;OBJECT=p", err: "more than once"},
		{name: "expfail_bad_escape", in: "pkcs11:token=t;object=%zz", err: "bad percent escape"},
		{name: "expfail_truncated_escape", in: "pkcs11:token=t;object=a%4", err: "truncated"},
		{name: "expfail_raw_space", in: "pkcs11:token=a b;object=o", err: "must be percent-encoded"},
		{name: "expfail_control_char_encoded", in: "pkcs11:token=a%0Ab;object=o", err: "control"},
		{name: "expfail_empty_value", in: "pkcs11:token=;object=o", err: "empty value"},
		{name: "expfail_no_equals", in: "pkcs11:token;object=o", err: "name=value"},
		{name: "expfail_no_token", in: "pkcs11:object=o", err: "names no token"},
		{name: "expfail_no_key", in: "pkcs11:token=t", err: "names no key"},
		{name: "expfail_empty", in: "pkcs11:", err: "names no token"},
		{name: "expfail_fragment", in: "pkcs11:token=t;object=o#x", err: "fragment"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := pkcs11.ParseURI(c.in)
			if c.err != "" {
				var ue *pkcs11.URIError
				if err == nil || !strings.Contains(err.Error(), c.err) || !errors.As(err, &ue) {
					t.Fatalf("ParseURI(%q) = %+v, %v; want error containing %q", c.in, got, err, c.err)
				}
				if strings.Contains(err.Error(), "123456") {
					t.Fatalf("error repeats the PIN: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseURI(%q): %v", c.in, err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("ParseURI(%q) = %+v, want %+v", c.in, got, c.want)
			}
			again, err := pkcs11.ParseURI(got.String())
			if err != nil || !reflect.DeepEqual(again, got) {
				t.Fatalf("round trip via %q: %+v, %v", got.String(), again, err)
			}
		})
	}
	if !pkcs11.IsURI("PKCS11:token=x") || pkcs11.IsURI("/tmp/pkcs11:x") {
		t.Fatal("IsURI")
	}
}

// FuzzParseURI: never panics; whatever parses renders to a URI that parses
// back to the same value and always names a token and a key.
func FuzzParseURI(f *testing.F) {
	raw, err := os.ReadFile("testdata/uri/seeds.txt")
	if err != nil {
		f.Fatal(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		f.Add(sc.Text())
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := pkcs11.ParseURI(s)
		if err != nil {
			return
		}
		if (u.Token == "" && u.Serial == "") || (u.Object == "" && len(u.ID) == 0) {
			t.Fatalf("%q parsed without token or key: %+v", s, u)
		}
		again, err := pkcs11.ParseURI(u.String())
		if err != nil || !reflect.DeepEqual(again, u) {
			t.Fatalf("%q -> %q -> %+v, %v", s, u.String(), again, err)
		}
	})
}
