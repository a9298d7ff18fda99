"""Typed Pulumi resources for the Kargo and Argo Rollouts kinds Image Factory renders, in the spirit of
crd2pulumi's output: one `CustomResource` subclass per kind, whose `spec` argument is the analyzer's
typed model (so a misspelt field fails in Python, not in the cluster)."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s
from pulumi_kubernetes.apiextensions import CustomResource

from analyzer.kargo import resources as model


class _KargoResource(CustomResource):
    """A CustomResource whose apiVersion/kind come from the model class it renders."""

    model_class: type[model.KubeObject]

    def __init__(self, resource_name: str, metadata: model.ObjectMeta, spec: model.Spec | None,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(resource_name, api_version=self.model_class.api_version, kind=self.model_class.kind,
                         metadata=metadata.to_dict(), spec=spec.to_dict() if spec is not None else None,
                         opts=opts)


class Project(_KargoResource):
    model_class = model.Project

    def __init__(self, resource_name: str, metadata: model.ObjectMeta,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(resource_name, metadata, None, opts)


class ProjectConfig(_KargoResource):
    model_class = model.ProjectConfig

    def __init__(self, resource_name: str, metadata: model.ObjectMeta, spec: model.ProjectConfigSpec,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(resource_name, metadata, spec, opts)


class Warehouse(_KargoResource):
    model_class = model.Warehouse

    def __init__(self, resource_name: str, metadata: model.ObjectMeta, spec: model.WarehouseSpec,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(resource_name, metadata, spec, opts)


class Stage(_KargoResource):
    model_class = model.Stage

    def __init__(self, resource_name: str, metadata: model.ObjectMeta, spec: model.StageSpec,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(resource_name, metadata, spec, opts)


class AnalysisTemplate(_KargoResource):
    model_class = model.AnalysisTemplate

    def __init__(self, resource_name: str, metadata: model.ObjectMeta, spec: model.AnalysisTemplateSpec,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(resource_name, metadata, spec, opts)


def create(obj: model.KargoObject, opts: pulumi.ResourceOptions | None = None) -> pulumi.CustomResource:
    """The typed Pulumi resource for one model object; the logical name is `<kind>-<name>` (lowercase).

    Kargo and Argo kinds become the CustomResource subclasses above; the Jobs' RBAC uses
    pulumi-kubernetes' own typed classes.
    """
    name = f"{obj.kind.lower()}-{obj.name}"
    if isinstance(obj, model.ServiceAccount | model.Role | model.RoleBinding):
        meta = k8s.meta.v1.ObjectMetaArgs(name=obj.metadata.name, namespace=obj.metadata.namespace,
                                          labels=obj.metadata.labels)
        if isinstance(obj, model.ServiceAccount):
            return k8s.core.v1.ServiceAccount(name, metadata=meta, opts=opts)
        if isinstance(obj, model.Role):
            rules = [k8s.rbac.v1.PolicyRuleArgs(api_groups=r.api_groups, resources=r.resources, verbs=r.verbs)
                     for r in obj.rules]
            return k8s.rbac.v1.Role(name, metadata=meta, rules=rules, opts=opts)
        ref = obj.role_ref
        return k8s.rbac.v1.RoleBinding(
            name, metadata=meta, opts=opts,
            role_ref=k8s.rbac.v1.RoleRefArgs(api_group=ref.api_group, kind=ref.kind, name=ref.name),
            subjects=[k8s.rbac.v1.SubjectArgs(kind=s.kind, name=s.name, namespace=s.namespace)
                      for s in obj.subjects])
    if isinstance(obj, model.Project):
        return Project(name, obj.metadata, opts)
    if isinstance(obj, model.ProjectConfig):
        return ProjectConfig(name, obj.metadata, obj.spec, opts)
    if isinstance(obj, model.Warehouse):
        return Warehouse(name, obj.metadata, obj.spec, opts)
    if isinstance(obj, model.Stage):
        return Stage(name, obj.metadata, obj.spec, opts)
    return AnalysisTemplate(name, obj.metadata, obj.spec, opts)
