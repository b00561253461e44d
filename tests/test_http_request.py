"""HTTP layer: request-targets (RFC 9112 3.2) as URL.parse_request_uri reads
them, against the cases of Go's readrequest_test.go and request_test.go."""

from __future__ import annotations

import pytest

from gonet.http import URL, Request, new_request


@pytest.mark.parametrize("method,target,scheme,host,path,query", [
    ("GET", "/", "", "", "/", ""),
    ("GET", "/a/b?c=d&e", "", "", "/a/b", "c=d&e"),
    # A path that looks like a scheme-relative URI is a path.
    ("GET", "//user@host/is/actually/a/path/", "", "", "//user@host/is/actually/a/path/", ""),
    ("GET", "http://www.techcrunch.com/", "http", "www.techcrunch.com", "/", ""),
    ("GET", "http://h.example", "http", "h.example", "/", ""),
    ("GET", "HTTPS://h.example:8443/x?y", "https", "h.example:8443", "/x", "y"),
    ("CONNECT", "www.google.com:443", "", "www.google.com:443", "", ""),
    ("CONNECT", "127.0.0.1:6060", "", "127.0.0.1:6060", "", ""),
    ("CONNECT", "[::1]:443", "", "[::1]:443", "", ""),
    ("CONNECT", "/_goRPC_", "", "", "/_goRPC_", ""),
    ("OPTIONS", "*", "", "", "*", ""),
])
def test_request_target_forms(method, target, scheme, host, path, query):
    # TestReadRequest
    u = URL.parse_request_uri(target, method)
    assert (u.scheme, u.host, u.path, u.raw_query) == (scheme, host, path, query)


@pytest.mark.parametrize("method,target", [
    ("GET", "../../../../etc/passwd"),
    ("GET", "foo"),
    ("GET", "?x=1"),
    ("GET", "a:443"),           # authority-form is CONNECT's only
    ("GET", "%2e%2e/x"),
    ("GET", "*"),               # asterisk-form is OPTIONS's only
    ("NOTIFY", "*"),            # Go accepts it (SSDP); RFC 9112 3.2.4 does not
    ("GET", "/%zz"),            # Go: invalid URL escape
    ("GET", "/a%"),
    ("GET", "/a%4"),
    ("GET", "http://u:p@h/x"),  # RFC 9110 4.2.4: userinfo is an error
    ("GET", "1http://h/x"),
    ("GET", "http://h{x}/"),
    ("CONNECT", "[]%20%48%54%54%50%2f%31%2e%31%0a"),  # Go's bad_connect_host
    ("CONNECT", "h"),
    ("CONNECT", "h:"),
    ("CONNECT", ":443"),
    ("CONNECT", "http://h:443/"),
])
def test_bad_request_targets(method, target):
    with pytest.raises(ValueError):
        URL.parse_request_uri(target, method)


def test_a_fragment_is_split_off():
    u = URL.parse_request_uri("/a/b?c=d#frag", "GET")
    assert (u.path, u.raw_query, u.fragment) == ("/a/b", "c=d", "frag")
    u = URL.parse_request_uri("/a#x?y", "GET")
    assert (u.path, u.raw_query, u.fragment) == ("/a", "", "x?y")


def test_escapes_keep_the_raw_path():
    u = URL.parse_request_uri("/a%20b%2Fc", "GET")
    assert u.path == "/a b/c" and u.raw_path == "/a%20b%2Fc"
    assert u.escaped_path() == "/a%20b%2Fc"


@pytest.mark.parametrize("target,host", [
    ("http://www.example.com/", "www.example.com"),
    ("http://www.example.com:8080/", "www.example.com:8080"),
    ("http://192.168.0.1/", "192.168.0.1"),
    ("http://[fe80::1]:8080/", "[fe80::1]:8080"),
])
def test_new_request_host(target, host):
    # TestNewRequestHost (the hosts Go keeps as written)
    assert new_request("GET", target).host == host


def test_a_request_without_a_connection_keeps_the_targets_scheme():
    # With no connection there is nothing else to take it from (Go's httptest.NewRequest).
    assert new_request("GET", "https://example.com/x").url.scheme == "https"
    assert new_request("GET", "/x").url.scheme == ""
    assert new_request("GET", "/x").tls is None


def test_request_tls_and_scheme_come_from_the_exchange():
    class Plain:
        tls_state = None

    class Secure:
        tls_state = object()

    r = Request("GET", "https://bank.example/x", exchange=Plain(), host="bank.example")
    assert r.url.scheme == "http" and r.tls is None and str(r.url) == "http://bank.example/x"
    r = Request("GET", "/x", exchange=Secure(), host="h.example")
    assert r.url.scheme == "https" and r.tls is Secure.tls_state and str(r.url) == "https://h.example/x"
