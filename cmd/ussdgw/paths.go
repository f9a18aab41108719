package main

import (
	"errors"
	"io/fs"
	"path/filepath"
	"slices"
)

// Paths in the config file are relative to the config file's folder, all
// of them: flows: here, adapter data files through adapters.Deps.Dir
// (buildAdapters). A path given by a flag or the environment stays
// relative to the working directory, as a shell user expects.

// pathKeys are the settings that name files or folders.
var pathKeys = []string{"flows"}

func isPathKey(name string) bool { return slices.Contains(pathKeys, name) }

// configRelative rewrites a relative path read from the config file
// against the file's folder.
func configRelative(configFile, p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(filepath.Dir(configFile), p)
}

// fullPath is p made absolute for messages ("looked in /srv/ussdgw/flows"),
// or p itself when the working directory cannot be read.
func fullPath(p string) string {
	if abs, err := filepath.Abs(p); err == nil {
		return abs
	}
	return p
}

// pathless is err without the path an *fs.PathError repeats, for messages
// that name the full path themselves.
func pathless(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
