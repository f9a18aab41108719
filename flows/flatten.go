package flows

// An adapter's result becomes flow variables here: a tree of maps and
// lists is flattened into dotted names (jobs.1.title, jobs.count), of
// which only those the flow reads are kept.

import (
	"fmt"
	"strconv"
	"strings"
)

// isEmpty reports whether an adapter's result has nothing in it, which
// the engine treats as the action's empty outcome.
func isEmpty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case map[string]any:
		return len(x) == 0
	case []any:
		return len(x) == 0
	case []map[string]any:
		return len(x) == 0
	case map[string]string:
		return len(x) == 0
	case []string:
		return len(x) == 0
	}
	return false
}

// clearVars removes variable name and everything flattened under it.
func clearVars(vars map[string]string, name string) {
	prefix := name + "."
	for k := range vars {
		if k == name || strings.HasPrefix(k, prefix) {
			delete(vars, k)
		}
	}
}

// flatten stores a result tree as variables: maps by key, lists by
// 1-based index with a count (jobs.1.title, jobs.count). Only the names
// keep accepts are stored. Names are built in one buffer and become
// strings only when kept: a list of fifty fields the flow never reads costs
// no allocation.
func flatten(vars map[string]string, name string, v any, keep func([]byte) bool) {
	buf := make([]byte, 0, 64)
	flattenInto(vars, append(buf, name...), v, keep)
}

func flattenInto(vars map[string]string, key []byte, v any, keep func([]byte) bool) {
	set := func(k []byte, val string) {
		if keep(k) {
			vars[string(k)] = val
		}
	}
	switch x := v.(type) {
	case nil:
	case string:
		set(key, x)
	case bool:
		set(key, strconv.FormatBool(x))
	case int:
		if keep(key) {
			vars[string(key)] = strconv.Itoa(x)
		}
	case int64:
		if keep(key) {
			vars[string(key)] = strconv.FormatInt(x, 10)
		}
	case float64:
		if keep(key) {
			vars[string(key)] = strconv.FormatFloat(x, 'f', -1, 64)
		}
	case map[string]any:
		for k, e := range x {
			flattenInto(vars, append(append(key, '.'), k...), e, keep)
		}
	case map[string]string:
		for k, e := range x {
			set(append(append(key, '.'), k...), e)
		}
	case []any:
		set(append(key, ".count"...), strconv.Itoa(len(x)))
		for i, e := range x {
			flattenInto(vars, strconv.AppendInt(append(key, '.'), int64(i+1), 10), e, keep)
		}
	case []map[string]any:
		set(append(key, ".count"...), strconv.Itoa(len(x)))
		for i, e := range x {
			flattenInto(vars, strconv.AppendInt(append(key, '.'), int64(i+1), 10), e, keep)
		}
	case []string:
		set(append(key, ".count"...), strconv.Itoa(len(x)))
		for i, e := range x {
			set(strconv.AppendInt(append(key, '.'), int64(i+1), 10), e)
		}
	default:
		if keep(key) {
			vars[string(key)] = fmt.Sprint(x)
		}
	}
}

func keepAll([]byte) bool { return true }

// keeper accepts the names that match one of patterns, where a # part of
// a pattern stands for any all-digit part (jobs.#.title).
func keeper(patterns []string) func([]byte) bool {
	return func(name []byte) bool {
		for _, p := range patterns {
			if wildMatch(name, p) {
				return true
			}
		}
		return false
	}
}

func wildMatch(name []byte, pattern string) bool {
	i, j := 0, 0
	for i < len(name) && j < len(pattern) {
		if pattern[j] == '#' && (j+1 == len(pattern) || pattern[j+1] == '.') {
			k := i
			for k < len(name) && name[k] >= '0' && name[k] <= '9' {
				k++
			}
			if k == i || (k < len(name) && name[k] != '.') {
				return false
			}
			i, j = k, j+1
			continue
		}
		if name[i] != pattern[j] {
			return false
		}
		i, j = i+1, j+1
	}
	return i == len(name) && j == len(pattern)
}
