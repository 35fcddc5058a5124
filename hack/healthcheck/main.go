// Command dbm-healthcheck reads DatabaseMigration objects and prints, as JSON, what two GitOps
// health engines that nobody in this project wrote make of each one:
//
//   - kstatus: sigs.k8s.io/cli-utils/pkg/kstatus/status.Compute, the generic reading that Flux's
//     `wait: true` / healthChecks, kpt and others apply to a custom resource;
//   - flux: the Flux kustomize-controller's own CEL evaluator (github.com/fluxcd/pkg/runtime/cel)
//     with the healthCheckExprs of the Kustomization in the file given by -flux, i.e. the shipped
//     example itself, not a copy of its expressions.
//
//	dbm-healthcheck -flux examples/flux/shop.yaml testdata/*.yaml
//
// Output: {"<file>": {"kstatus": "...", "kstatusMessage": "...", "flux": "...", "fluxError": "..."}}
// A status of "Error" means the engine could not read the object (the error says why); Flux's
// wait treats such a resource as Unknown: not Current, not Failed, so it keeps waiting.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/fluxcd/pkg/apis/kustomize"
	fluxcel "github.com/fluxcd/pkg/runtime/cel"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	k8syaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/yaml"
)

type verdict struct {
	Kstatus        string `json:"kstatus"`
	KstatusMessage string `json:"kstatusMessage,omitempty"`
	Flux           string `json:"flux"`
	FluxError      string `json:"fluxError,omitempty"`
}

func main() {
	fluxFile := flag.String("flux", "", "file with the Flux Kustomization whose spec.healthCheckExprs to use")
	flag.Parse()
	if *fluxFile == "" || flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: dbm-healthcheck -flux KUSTOMIZATION.yaml OBJECT.yaml...")
		os.Exit(2)
	}
	checks, err := healthChecks(*fluxFile)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", *fluxFile, err)
		os.Exit(1)
	}
	// Flux's own constructor validates the list as kustomize-controller does (parse errors,
	// duplicate kinds); the evaluators below are built the same way, one per check.
	if _, err := fluxcel.NewStatusReader(checks); err != nil {
		fmt.Fprintf(os.Stderr, "%s: spec.healthCheckExprs: %v\n", *fluxFile, err)
		os.Exit(1)
	}
	out := map[string]verdict{}
	for _, path := range flag.Args() {
		obj, err := readObject(path)
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", path, err)
			os.Exit(1)
		}
		out[path] = evaluate(obj, checks)
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func evaluate(obj *unstructured.Unstructured, checks []kustomize.CustomHealthCheck) verdict {
	var v verdict
	if res, err := status.Compute(obj); err != nil {
		v.Kstatus, v.KstatusMessage = "Error", err.Error()
	} else {
		v.Kstatus, v.KstatusMessage = res.Status.String(), res.Message
	}
	hc, ok := checkFor(obj.GroupVersionKind().GroupKind(), checks)
	if !ok {
		v.Flux, v.FluxError = "Error", "no healthCheckExprs entry for "+obj.GroupVersionKind().String()
		return v
	}
	evaluator, err := fluxcel.NewStatusEvaluator(&hc.HealthCheckExpressions)
	if err != nil {
		v.Flux, v.FluxError = "Error", err.Error()
		return v
	}
	res, err := evaluator.Evaluate(context.Background(), obj)
	if err != nil {
		v.Flux, v.FluxError = "Error", err.Error()
		return v
	}
	v.Flux = res.Status.String()
	return v
}

// checkFor picks the check the way Flux's StatusReader does: by GroupKind, else by group alone.
func checkFor(gk schema.GroupKind, checks []kustomize.CustomHealthCheck) (kustomize.CustomHealthCheck, bool) {
	var byGroup *kustomize.CustomHealthCheck
	for i, hc := range checks {
		hgk := schema.FromAPIVersionAndKind(hc.APIVersion, hc.Kind).GroupKind()
		if hc.Kind == "" && hgk.Group == gk.Group {
			byGroup = &checks[i]
		} else if hgk == gk {
			return hc, true
		}
	}
	if byGroup != nil {
		return *byGroup, true
	}
	return kustomize.CustomHealthCheck{}, false
}

// healthChecks returns spec.healthCheckExprs of the one Kustomization in a multi-document file.
func healthChecks(path string) ([]kustomize.CustomHealthCheck, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	dec := k8syaml.NewYAMLOrJSONDecoder(f, 4096)
	for {
		var doc struct {
			Kind string `json:"kind"`
			Spec struct {
				HealthCheckExprs []kustomize.CustomHealthCheck `json:"healthCheckExprs"`
			} `json:"spec"`
		}
		if err := dec.Decode(&doc); err != nil {
			if errors.Is(err, io.EOF) {
				return nil, errors.New("no Kustomization with spec.healthCheckExprs")
			}
			return nil, err
		}
		if doc.Kind == "Kustomization" && len(doc.Spec.HealthCheckExprs) > 0 {
			return doc.Spec.HealthCheckExprs, nil
		}
	}
}

func readObject(path string) (*unstructured.Unstructured, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	// Through JSON, as the API server serves it: integers stay int64 (kstatus and Flux read
	// generations with NestedInt64; a float64 would silently skip their generation checks).
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		return nil, err
	}
	obj := &unstructured.Unstructured{}
	if err := obj.UnmarshalJSON(js); err != nil {
		return nil, err
	}
	if obj.GetKind() == "" {
		return nil, errors.New("not a Kubernetes object (no kind)")
	}
	return obj, nil
}
