// kargo-eval evaluates rendered Kargo Stages the way Kargo v1.11.2 does, with Kargo's own template engine.
//
// Input (stdin, JSON): {"project", "objects": [rendered manifests], "freight": [Freight references],
// "secrets": {name: {key: value}}, "responses": [HTTP responses to judge each http step by]}.
// Output (stdout, JSON): per Stage, each promotion step's evaluated config (or the error Kargo would
// raise), the outcome Kargo's http step would reach for each response, and the verification args as
// the AnalysisRun builder would pass them (or its error).
//
// What is Kargo's own code: github.com/akuity/kargo/pkg/expressions (splitting `${{ … }}`, quote(),
// re-typing of results) and github.com/expr-lang/expr at Kargo's pin. What is a faithful copy, because
// Kargo's packages that hold it import github.com/akuity/kargo/api, which the Go module proxy here does
// not serve: the freight functions imageFrom()/warehouse()/secret() (signatures and lookup rules of
// pkg/expressions/function and pkg/controller/freight.FindImage), the `ctx` environment
// (pkg/promotion.BuildCtxMap; pkg/controller/stages for verification), the string check on
// verification args (pkg/rollouts/analysis_run_builder.go) and the http step's outcome rules
// (pkg/promotion/runner/builtin/http_requester.go). Each copy names its source below.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"os"
	"sort"

	"github.com/akuity/kargo/pkg/expressions"
	"github.com/expr-lang/expr"
)

// FreightOrigin mirrors kargoapi.FreightOrigin (the value warehouse() returns).
type FreightOrigin struct {
	Kind string `json:"kind"`
	Name string `json:"name"`
}

// Image mirrors kargoapi.Image: expressions read .RepoURL, .Tag, .Digest.
type Image struct {
	RepoURL     string            `json:"repoURL"`
	Tag         string            `json:"tag,omitempty"`
	Digest      string            `json:"digest,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// FreightReference mirrors kargoapi.FreightReference (images only: the factory follows images).
type FreightReference struct {
	Name   string        `json:"name"`
	Origin FreightOrigin `json:"origin"`
	Images []Image       `json:"images"`
}

type input struct {
	Project   string                       `json:"project"`
	Objects   []map[string]any             `json:"objects"`
	Freight   []FreightReference           `json:"freight"`
	Secrets   map[string]map[string]string `json:"secrets"`
	Responses []response                   `json:"responses"`
}

type response struct {
	Status      int64  `json:"status"`
	Body        string `json:"body"`
	ContentType string `json:"contentType"`
}

type stepResult struct {
	Uses      string          `json:"uses"`
	As        string          `json:"as,omitempty"`
	Config    json.RawMessage `json:"config,omitempty"`
	Error     string          `json:"error,omitempty"`
	Responses []httpOutcome   `json:"responses,omitempty"`
}

type httpOutcome struct {
	Status  int64  `json:"status"`
	Outcome string `json:"outcome"`
	Message string `json:"message,omitempty"`
}

type argResult struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type stageResult struct {
	Stage             string       `json:"stage"`
	Steps             []stepResult `json:"steps"`
	VerificationArgs  []argResult  `json:"verificationArgs,omitempty"`
	VerificationError string       `json:"verificationError,omitempty"`
}

func main() {
	raw, err := io.ReadAll(os.Stdin)
	if err != nil {
		fail(err)
	}
	var in input
	if err := json.Unmarshal(raw, &in); err != nil {
		fail(fmt.Errorf("input: %w", err))
	}
	subscriptions := warehouseSubscriptions(in.Objects)
	results := []stageResult{}
	for _, obj := range in.Objects {
		if obj["kind"] != "Stage" {
			continue
		}
		results = append(results, evaluateStage(in, obj, subscriptions))
	}
	sort.Slice(results, func(i, j int) bool { return results[i].Stage < results[j].Stage })
	out := json.NewEncoder(os.Stdout)
	out.SetIndent("", "  ")
	if err := out.Encode(map[string]any{"stages": results}); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "kargo-eval:", err)
	os.Exit(2)
}

func warehouseSubscriptions(objects []map[string]any) map[string][]string {
	subs := map[string][]string{}
	for _, obj := range objects {
		if obj["kind"] != "Warehouse" {
			continue
		}
		name := str(dig(obj, "metadata", "name"))
		for _, s := range list(dig(obj, "spec", "subscriptions")) {
			if image, ok := s.(map[string]any)["image"].(map[string]any); ok {
				subs[name] = append(subs[name], str(image["repoURL"]))
			}
		}
	}
	return subs
}

func evaluateStage(in input, stage map[string]any, subscriptions map[string][]string) stageResult {
	name := str(dig(stage, "metadata", "name"))
	requested := []FreightOrigin{}
	for _, r := range list(dig(stage, "spec", "requestedFreight")) {
		origin := r.(map[string]any)["origin"].(map[string]any)
		requested = append(requested, FreightOrigin{Kind: str(origin["kind"]), Name: str(origin["name"])})
	}
	freight := []FreightReference{}
	for _, f := range in.Freight {
		for _, o := range requested {
			if o == f.Origin {
				freight = append(freight, f)
			}
		}
	}
	opts := freightOperations(requested, freight, subscriptions, in.Secrets)
	result := stageResult{Stage: name, Steps: []stepResult{}}

	// Promotion steps: pkg/promotion/evaluator.go StepEvaluator.Config and BuildCtxMap.
	target := FreightReference{}
	if len(freight) > 0 {
		target = freight[0]
	}
	for _, s := range list(dig(stage, "spec", "promotionTemplate", "spec", "steps")) {
		step := s.(map[string]any)
		res := stepResult{Uses: str(step["uses"]), As: str(step["as"])}
		env := map[string]any{
			"ctx": map[string]any{
				"uiBaseUrl": "", "project": in.Project, "promotion": name + ".promotion", "stage": name,
				"targetFreight": map[string]any{
					"name": target.Name, "alias": "", "origin": map[string]any{"name": target.Origin.Name},
				},
				"meta": map[string]any{
					"promotion": map[string]any{"actor": "kargo", "rollback": false},
					"step":      map[string]any{"alias": res.As},
				},
			},
			"stepMetas": map[string]any{},
			"outputs":   map[string]any{},
			"vars":      map[string]any{},
		}
		configJSON, err := json.Marshal(step["config"])
		if err != nil {
			fail(err)
		}
		evaluated, err := expressions.EvaluateJSONTemplate(configJSON, env, opts...)
		if err != nil {
			res.Error = err.Error()
		} else {
			res.Config = evaluated
			if res.Uses == "http" {
				res.Responses = judgeResponses(evaluated, in.Responses)
			}
		}
		result.Steps = append(result.Steps, res)
	}

	// Verification args: pkg/controller/stages/regular_stages.go (env) and
	// pkg/rollouts/analysis_run_builder.go (every evaluated arg must be a string).
	verifyEnv := map[string]any{"ctx": map[string]any{"project": in.Project, "stage": name}}
	for _, a := range list(dig(stage, "spec", "verification", "args")) {
		arg := a.(map[string]any)
		argName, value := str(arg["name"]), str(arg["value"])
		out := argResult{Name: argName}
		if value != "" {
			evaluated, err := expressions.EvaluateTemplate(value, verifyEnv, opts...)
			if err != nil {
				result.VerificationError = fmt.Sprintf("evaluate argument %q: %v", argName, err)
				break
			}
			s, ok := evaluated.(string)
			if !ok {
				result.VerificationError = fmt.Sprintf(
					"evaluated argument %q value is not a string but %T", argName, evaluated)
				break
			}
			out.Value = s
		}
		result.VerificationArgs = append(result.VerificationArgs, out)
	}
	if result.VerificationError != "" {
		result.VerificationArgs = nil
	}
	return result
}

// freightOperations: the functions of pkg/expressions/function that the factory's expressions use, with
// the signatures Kargo declares (the declared types drive expr's compile-time checks).
func freightOperations(requested []FreightOrigin, freight []FreightReference,
	subscriptions map[string][]string, secrets map[string]map[string]string) []expr.Option {
	return []expr.Option{
		expr.Function("warehouse", func(a ...any) (any, error) {
			if len(a) != 1 {
				return nil, fmt.Errorf("expected 1 argument, got %d", len(a))
			}
			name, ok := a[0].(string)
			if !ok {
				return nil, fmt.Errorf("argument must be string, got %T", a[0])
			}
			if name == "" {
				return nil, fmt.Errorf("name must not be empty")
			}
			return FreightOrigin{Kind: "Warehouse", Name: name}, nil
		}, new(func(name string) FreightOrigin)),
		expr.Function("imageFrom", func(a ...any) (any, error) {
			if len(a) == 0 || len(a) > 2 {
				return nil, fmt.Errorf("expected 1-2 arguments, got %d", len(a))
			}
			repoURL, ok := a[0].(string)
			if !ok {
				return nil, fmt.Errorf("first argument must be string, got %T", a[0])
			}
			var desired *FreightOrigin
			if len(a) == 2 {
				origin, ok := a[1].(FreightOrigin)
				if !ok {
					return nil, fmt.Errorf("second argument must be FreightOrigin, got %T", a[1])
				}
				desired = &origin
			}
			return findImage(requested, desired, freight, subscriptions, repoURL)
		}, new(func(repoURL string, origin FreightOrigin) Image), new(func(repoURL string) Image)),
		expr.Function("secret", func(a ...any) (any, error) {
			if len(a) != 1 {
				return nil, fmt.Errorf("expected 1 argument, got %d", len(a))
			}
			name, ok := a[0].(string)
			if !ok {
				return nil, fmt.Errorf("argument must be string, got %T", a[0])
			}
			if data, ok := secrets[name]; ok {
				return data, nil
			}
			return map[string]string{}, nil // Kargo: a missing Secret reads as an empty map
		}, new(func(name string) map[string]string)),
	}
}

// findImage: pkg/controller/freight/finder.go FindImage.
func findImage(requested []FreightOrigin, desired *FreightOrigin, freight []FreightReference,
	subscriptions map[string][]string, repoURL string) (*Image, error) {
	if desired == nil {
		for i := range requested {
			for _, sub := range subscriptions[requested[i].Name] {
				if sub == repoURL {
					if desired != nil {
						return nil, fmt.Errorf("multiple requested Freight could potentially provide a "+
							"container image from repository %s: please provide a Freight origin to "+
							"disambiguate", repoURL)
					}
					desired = &requested[i]
				}
			}
		}
	}
	if desired == nil {
		return nil, nil
	}
	for _, f := range freight {
		if f.Origin == *desired {
			for _, i := range f.Images {
				if i.RepoURL == repoURL {
					return &i, nil
				}
			}
		}
	}
	return nil, nil
}

// judgeResponses: the outcome rules of pkg/promotion/runner/builtin/http_requester.go run().
func judgeResponses(configJSON []byte, responses []response) []httpOutcome {
	var cfg struct {
		SuccessExpression string `json:"successExpression"`
		FailureExpression string `json:"failureExpression"`
		ErrorExpression   string `json:"errorExpression"`
	}
	if err := json.Unmarshal(configJSON, &cfg); err != nil {
		fail(err)
	}
	outcomes := []httpOutcome{}
	for _, r := range responses {
		env := responseEnv(r)
		o := httpOutcome{Status: r.Status}
		success, errS := boolExpr(cfg.SuccessExpression, env)
		failure, errF := boolExpr(cfg.FailureExpression, env)
		switch {
		case errS != nil:
			o.Outcome, o.Message = "Errored", errS.Error()
		case errF != nil:
			o.Outcome, o.Message = "Errored", errF.Error()
		case failure != nil && *failure:
			o.Outcome = "Failed"
			if cfg.ErrorExpression != "" {
				program, err := expr.Compile(cfg.ErrorExpression)
				if err != nil {
					o.Outcome, o.Message = "Errored", err.Error()
					break
				}
				if v, err := expr.Run(program, env); err == nil {
					o.Message, _ = v.(string)
				}
			}
		case success != nil && *success:
			o.Outcome = "Succeeded"
		case success == nil && failure == nil:
			if r.Status >= 200 && r.Status < 300 {
				o.Outcome = "Succeeded"
			} else {
				o.Outcome = "Failed"
			}
		default:
			o.Outcome = "Running"
		}
		outcomes = append(outcomes, o)
	}
	return outcomes
}

func responseEnv(r response) map[string]any {
	headers := map[string][]string{}
	if r.ContentType != "" {
		headers["Content-Type"] = []string{r.ContentType}
	}
	resp := map[string]any{
		"status":  r.Status,
		"header":  func(k string) string { return first(headers[k]) },
		"headers": headers,
		"body":    map[string]any{},
	}
	if r.Body != "" {
		contentType, _, _ := mime.ParseMediaType(r.ContentType)
		var parsed any
		if json.Unmarshal([]byte(r.Body), &parsed) == nil {
			resp["body"] = parsed
		} else if contentType == "text/plain" {
			resp["body"] = r.Body
		}
	}
	return map[string]any{"response": resp}
}

func boolExpr(source string, env map[string]any) (*bool, error) {
	if source == "" {
		return nil, nil
	}
	program, err := expr.Compile(source)
	if err != nil {
		return nil, fmt.Errorf("error compiling expression %q: %w", source, err)
	}
	v, err := expr.Run(program, env)
	if err != nil {
		return nil, fmt.Errorf("error evaluating expression %q: %w", source, err)
	}
	b, ok := v.(bool)
	if !ok {
		return nil, fmt.Errorf("expression %q did not evaluate to a boolean (got %T)", source, v)
	}
	return &b, nil
}

func dig(m map[string]any, keys ...string) any {
	var cur any = m
	for _, k := range keys {
		asMap, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = asMap[k]
	}
	return cur
}

func list(v any) []any {
	l, _ := v.([]any)
	return l
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}
