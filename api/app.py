"""The NinjaAPI object every /api/v1/ operation is registered on (api.views: reads,
api.cluster_writes and api.maintenance_writes: writes), with its error shapes."""

from ninja import NinjaAPI

from accounts.roles import VIEWER

from . import errors, schemas
from .auth import needs

api = NinjaAPI(
    title="Watchkeeper API",
    version="1",
    description=(
        "Readiness scores, findings and maintenance of Docker Swarm clusters. Authenticate "
        "with an API token (`Authorization: Bearer wk_...`, made on your profile page or with "
        "`manage.py token create`) or a signed-in session (CSRF token for unsafe methods). "
        'Errors are JSON: `{"code": ..., "message": ...}`.'
    ),
    auth=needs(VIEWER),  # writes: needs(OPERATOR) or needs(ADMIN)
    urls_namespace="api",
    openapi_url="/openapi.json",
    docs_url="/docs",
)
errors.install(api)

ERRORS = {401: schemas.Error, 403: schemas.Error, 404: schemas.Error, 429: schemas.Error}
ERRORS_422 = {**ERRORS, 422: schemas.Error}
WRITE_ERRORS = {**ERRORS_422, 409: schemas.Error}
