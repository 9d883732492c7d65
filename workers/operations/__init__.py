"""Operations: the Python functions behind BPMN service tasks, registered as `<system>.<verb>`.

One module per external system. Each operation takes the evaluated BPMN parameters and an
OperationContext and returns a JSON-safe result. Transient failures raise Unavailable (the job is
retried with backoff); business failures raise ProcessFailed or BusinessError (the step fails at
once, or goes to a modelled error boundary). Every call carries an idempotency key.
"""

from workers.operations import directory, http, im, mail
from workers.operations.context import SETTINGS, OperationContext

OPERATIONS = {
    "http.request": http.http_request,
    "mail.send": mail.send_mail,
    "notify.im": im.notify_im,
    "directory.create_account": directory.create_account,
    "directory.grant_vpn": directory.grant_vpn,
}
OPERATION_NAMES = frozenset(OPERATIONS)

__all__ = ["OPERATIONS", "OPERATION_NAMES", "SETTINGS", "OperationContext"]
