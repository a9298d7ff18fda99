//go:build tools

// Package tools pins the Pulumi commands this engine builds (see targets).
package tools

import (
	_ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
)
