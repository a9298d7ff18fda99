module imagefactory.local/engines/kargo-eval

go 1.26.0

require (
	github.com/akuity/kargo v1.11.2
	github.com/expr-lang/expr v1.17.8
)

require go.yaml.in/yaml/v3 v3.0.4 // indirect

replace (
	github.com/akuity/kargo/api => ./stubs/api
	github.com/akuity/kargo/pkg/x/client/generated => ./stubs/generated
	k8s.io/code-generator => k8s.io/code-generator v0.34.3
	sigs.k8s.io/controller-tools => sigs.k8s.io/controller-tools v0.19.0
	sigs.k8s.io/kustomize/api => sigs.k8s.io/kustomize/api v0.20.1
	sigs.k8s.io/kustomize/kyaml => sigs.k8s.io/kustomize/kyaml v0.20.1
)

exclude github.com/ugorji/go v1.1.4
