package main

import "testing"

func mustDecode(t *testing.T, s string) any {
	t.Helper()
	v, err := decode([]byte(s))
	if err != nil {
		t.Fatalf("%s: %v", s, err)
	}
	return v
}

func TestMatch(t *testing.T) {
	for _, tc := range []struct {
		expected, actual string
		ok               bool
	}{
		{`{"size": "5"}`, `{"size": "5", "other": 1}`, true},
		{`{"size": 5}`, `{"size": "5"}`, true},
		{`{"size": "6"}`, `{"size": "5"}`, false},
		{`{"found": false, "n": 0, "s": ""}`, `{"found": null}`, true},
		{`{"m": {"$present": true}}`, `{"m": {"a": 1}}`, true},
		{`{"m": {"$present": true}}`, `{"m": null}`, false},
		{`{"m": {"$present": true}}`, `{"m": "0"}`, false},
		{`{"m": {"$present": true}}`, `{"m": {}}`, false},
		{`{"m": {"$absent": true}}`, `{}`, true},
		{`{"m": {"$absent": true}}`, `{"m": "x"}`, false},
		{`{"l": [{"a": 1}, {}]}`, `{"l": [{"a": "1"}, {"b": 2}]}`, true},
		{`{"l": [{}]}`, `{"l": []}`, false},
		{`{"o": {"x": 0}}`, `{"o": null}`, true},
		{`{"o": {"x": 1}}`, `{"o": 3}`, false},
		{`{"c": {"$bytes": {"fill": "a", "count": 3}}}`, `{"c": "YWFh"}`, true},
		{`{"p": {"$string": {"fill": "ab", "count": 2}}}`, `{"p": "abab"}`, true},
		{`{"v": "abc"}`, `{"v": "abd"}`, false},
		{`{"b": true}`, `{"b": true}`, true},
		{`{"b": true}`, `{"b": false}`, false},
	} {
		problem := match(expand(mustDecode(t, tc.expected)), mustDecode(t, tc.actual), "response")
		if (problem == "") != tc.ok {
			t.Errorf("match(%s, %s) = %q, want ok=%v", tc.expected, tc.actual, problem, tc.ok)
		}
	}
}

func TestSameSet(t *testing.T) {
	if !sameSet([]string{"b", "a"}, []string{"a", "b", "a"}) || sameSet([]string{"a"}, []string{"a", "b"}) || !sameSet(nil, []string{}) {
		t.Fatal("sameSet")
	}
}
