package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"slices"
	"strings"
)

// expand replaces the generators, recursively:
// {"$bytes": {"fill": "a", "count": N}} is the base64 of N bytes "a", and
// {"$string": {"fill": "a", "count": N}} is that string itself.
func expand(v any) any {
	switch v := v.(type) {
	case map[string]any:
		if spec, ok := generator(v, "$bytes"); ok {
			return base64.StdEncoding.EncodeToString([]byte(spec))
		}
		if spec, ok := generator(v, "$string"); ok {
			return spec
		}
		out := make(map[string]any, len(v))
		for k, item := range v {
			out[k] = expand(item)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, item := range v {
			out[i] = expand(item)
		}
		return out
	}
	return v
}

func generator(v map[string]any, key string) (string, bool) {
	if len(v) != 1 {
		return "", false
	}
	spec, ok := v[key].(map[string]any)
	if !ok {
		return "", false
	}
	fill, _ := spec["fill"].(string)
	count, _ := spec["count"].(json.Number)
	n, err := count.Int64()
	if err != nil || n < 0 {
		return "", false
	}
	return strings.Repeat(fill, int(n)), true
}

// match returns "" when actual matches expected under the README's rules, or
// what differed.
func match(expected, actual any, where string) string {
	if obj, ok := expected.(map[string]any); ok && len(obj) == 1 {
		if _, ok := obj["$present"]; ok {
			if isDefault(actual) || isEmptyContainer(actual) {
				return where + ": missing"
			}
			return ""
		}
		if _, ok := obj["$absent"]; ok {
			if actual != nil {
				return fmt.Sprintf("%s: expected absent, got %s", where, show(actual))
			}
			return ""
		}
	}
	switch exp := expected.(type) {
	case map[string]any:
		got, isObject := actual.(map[string]any)
		if actual != nil && !isObject {
			return fmt.Sprintf("%s: expected an object, got %s", where, show(actual))
		}
		keys := make([]string, 0, len(exp))
		for k := range exp {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			if problem := match(exp[k], got[k], where+"."+k); problem != "" {
				return problem
			}
		}
		return ""
	case []any:
		got, _ := actual.([]any)
		if len(got) != len(exp) {
			return fmt.Sprintf("%s: expected %d items, got %d", where, len(exp), len(got))
		}
		for i := range exp {
			if problem := match(exp[i], got[i], fmt.Sprintf("%s[%d]", where, i)); problem != "" {
				return problem
			}
		}
		return ""
	}
	if !scalarEqual(expected, actual) {
		return fmt.Sprintf("%s: expected %s, got %s", where, show(expected), show(actual))
	}
	return ""
}

// isDefault: null, false, 0, "" and "0" (an int64 printed as a string).
func isDefault(v any) bool {
	switch v := v.(type) {
	case nil:
		return true
	case bool:
		return !v
	case json.Number:
		f, err := v.Float64()
		return err == nil && f == 0
	case string:
		return v == "" || v == "0"
	}
	return false
}

func isEmptyContainer(v any) bool {
	switch v := v.(type) {
	case map[string]any:
		return len(v) == 0
	case []any:
		return len(v) == 0
	}
	return false
}

// scalarEqual compares numbers and decimal strings by value ("5" == 5), and
// lets a default match an absent or null value.
func scalarEqual(expected, actual any) bool {
	if isDefault(expected) && isDefault(actual) {
		return true
	}
	if a, ok := integer(expected); ok {
		if b, ok := integer(actual); ok {
			return a.Cmp(b) == 0
		}
	}
	switch e := expected.(type) {
	case json.Number:
		a, ok := actual.(json.Number)
		if !ok {
			return false
		}
		x, err1 := e.Float64()
		y, err2 := a.Float64()
		return err1 == nil && err2 == nil && x == y
	case string, bool:
		return expected == actual
	}
	return false
}

// integer reads a JSON number or a string holding a decimal integer.
func integer(v any) (*big.Int, bool) {
	var s string
	switch v := v.(type) {
	case json.Number:
		s = string(v)
	case string:
		s = strings.TrimSpace(v)
	default:
		return nil, false
	}
	return new(big.Int).SetString(s, 10)
}

func show(v any) string {
	out, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	if len(out) > 200 {
		return string(out[:200]) + "..."
	}
	return string(out)
}

func sameSet(a, b []string) bool {
	return slices.Equal(sortedUnique(a), sortedUnique(b))
}

func sortedUnique(s []string) []string {
	return slices.Compact(sorted(s))
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}
