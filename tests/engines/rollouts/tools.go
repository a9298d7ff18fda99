//go:build tools

// Package tools pins the engine's command so `go mod tidy` keeps its dependencies.
package tools

import _ "github.com/argoproj/argo-rollouts/cmd/rollouts-controller"
