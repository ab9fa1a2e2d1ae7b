"""Images: pinned, consistent, from a registry the team controls."""

from __future__ import annotations

from readiness.checks import Obj, check
from readiness.registry import rule
from readiness.rules._util import parse_image


@rule(
    id="images.tag-pinned",
    title="Image pinned to a tag other than latest",
    target="S",
    severity="critical",
    seed="003",
    rationale="""Seed 003 (Improving your deployments) warns that an image without a tag is
    implicitly `:latest`: any task started later (scaling, a crash) silently gets whatever was
    pushed last. Deploy an explicit version tag, treated as immutable, or a digest.""",
    remediation="""`docker service update --image registry.example.com/app:1.4.2 {name}`
    (Compose: `image: registry.example.com/app:1.4.2`); never reuse a tag for new code.""",
    alone=True,
)
def tag_pinned(snapshot, policy, context):
    outcomes = []
    for service in snapshot.services:
        image = service.deployed_image
        if not image:
            continue
        _, _, tag, digest = parse_image(image)
        if tag == "latest":
            passed, why = False, "uses the tag latest"
        elif tag:
            passed, why = True, f"is pinned to tag {tag}"
        elif digest:
            passed, why = True, "is pinned by digest"
        else:
            passed, why = False, "has no tag (implicitly latest)"
        message = f"service {service.name}: image {image} {why}"
        outcomes.append(check(Obj.of_service(service), passed, message, message))
    return outcomes


@rule(
    id="images.digest-pinned",
    title="Image pinned by digest",
    target="S",
    severity="warning",
    seed="003",
    rationale="""Seed 003 asks to treat tags as immutable, but a registry cannot enforce that:
    a tag can be pushed again. A `@sha256:` digest in the service spec is the only reference that
    guarantees every task runs the exact same bytes.""",
    remediation="""`docker service update --image app:1.4.2@sha256:<digest> {name}` (get the
    digest with `docker buildx imagetools inspect app:1.4.2`; Compose: `image:
    app:1.4.2@sha256:<digest>`).""",
    alone=True,
)
def digest_pinned(snapshot, policy, context):
    outcomes = []
    for service in snapshot.services:
        if not service.image:
            continue
        passed = "@sha256:" in service.image
        outcomes.append(
            check(
                Obj.of_service(service),
                passed,
                f"service {service.name}: image {service.image} carries a digest",
                f"service {service.name}: image {service.image} has no @sha256: digest",
            )
        )
    return outcomes


@rule(
    id="images.consistent",
    title="All tasks run the same image",
    target="S",
    severity="critical",
    seed="003 (50 of your 100 instances)",
    rationale="""Seed 003 describes the nightmare of debugging a service where half the
    instances run one image and half another. When running tasks disagree on the image, an update
    is stuck halfway or a mutable tag moved under the service.""",
    remediation="""Finish or redo the rollout to one pinned image:
    `docker service update --force --image <image>@sha256:<digest> {name}`.""",
    runtime=True,
)
def consistent(snapshot, policy, context):
    outcomes = []
    for service in snapshot.services:
        images = {t.image for t in snapshot.running_tasks_of_service(service.id)}
        if not images:
            continue
        listed = ", ".join(sorted(images))
        outcomes.append(
            check(
                Obj.of_service(service),
                len(images) == 1,
                f"service {service.name}: every running task runs {listed}",
                f"service {service.name}: running tasks use {len(images)} images: {listed}",
            )
        )
    return outcomes


def registry_allowed(image: str, policy) -> tuple[bool, str]:
    host, repo, _, _ = parse_image(image)
    full = f"{host}/{repo}"
    if host != "docker.io" and policy.allow_private_registries:
        return True, f"private registry {host}"
    for prefix in policy.allowed_registries:
        if full.startswith(prefix) or repo.startswith(prefix):
            return True, f"allowed prefix {prefix}"
    return False, f"{full} is not on the allow-list"


@rule(
    id="images.registry",
    title="Images from an allowed registry",
    target="S",
    severity="warning",
    seed="003",
    rationale="""Seed 003 recommends keeping production images in an organisational registry,
    ideally a private one close to the cluster, rather than a personal Docker Hub account that one
    person controls and that needs internet access. By default we accept any private registry
    host and Docker Hub's official `library/` images.""",
    remediation="""Push the image to your organisation's registry and
    `docker service update --image registry.example.com/team/app:1.4.2 {name}` (Compose:
    `image: registry.example.com/team/app:1.4.2`), or add the namespace to the cluster
    policy's allowed registries.""",
    alone=True,
)
def registry(snapshot, policy, context):
    outcomes = []
    for service in snapshot.services:
        image = service.deployed_image
        if not image:
            continue
        passed, why = registry_allowed(image, policy)
        message = f"service {service.name}: image {image}: {why}"
        outcomes.append(check(Obj.of_service(service), passed, message, message))
    return outcomes
