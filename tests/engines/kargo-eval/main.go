package main

import (
	"fmt"

	"github.com/akuity/kargo/pkg/expressions"
)

func main() {
	v, err := expressions.EvaluateTemplate(`${{ "1.36" }}`, map[string]any{})
	fmt.Println(v, err)
}
