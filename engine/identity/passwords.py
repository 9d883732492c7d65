"""The password policy and hashing (scrypt, through Werkzeug), for local accounts.

The policy is NIST SP 800-63B's: a minimum length, and no password an attacker would guess early,
which zxcvbn estimates from its lists of leaked passwords, words and names, and from the user's
own username and name.
"""

from werkzeug.security import check_password_hash, generate_password_hash

from engine.errors import InvalidInput
from forms.messages import FieldError, as_problem

MIN_LENGTH = 10
MAX_LENGTH = 256  # scrypt takes any length; a cap keeps a request's hashing bounded
MIN_SCORE = 3  # zxcvbn: 3 = "safely unguessable: moderate protection from offline attacks"
SCORED_LENGTH = 72  # zxcvbn refuses longer input (ValueError); a longer password is scored on
# its first 72 characters, which must then be hard to guess on their own


def _guessability(password: str, user_inputs: list[str]) -> dict:
    """zxcvbn's estimate. Imported when a password is set: its word lists cost every process
    ~13 MiB, and RQ workers never set one."""
    from zxcvbn import zxcvbn

    return zxcvbn(password[:SCORED_LENGTH], user_inputs=user_inputs)


def check_policy(password: str, *, hints: tuple[str, ...] = ()) -> None:
    """Refuse a password that is too short, too long, or easy to guess.

    Raises:
        InvalidInput: with the reason under errors["password"].
    """
    if not isinstance(password, str) or len(password) < MIN_LENGTH:
        code, texts = "password_short", (f"At least {MIN_LENGTH} characters.",
                                         f"至少 {MIN_LENGTH} 个字符。")  # fmt: skip
    elif len(password) > MAX_LENGTH:
        code, texts = "password_long", (f"At most {MAX_LENGTH} characters.",
                                        f"最多 {MAX_LENGTH} 个字符。")  # fmt: skip
    elif not _typeable(password):
        code, texts = (
            "password_characters",
            (
                "Letters, digits, spaces and punctuation only: no control characters.",
                "只能用字母、数字、空格和标点：不能有控制字符。",
            ),
        )
    elif _guessability(password, user_inputs=[h for h in hints if h])["score"] < MIN_SCORE:
        code, texts = (
            "password_guessable",
            (
                "Too easy to guess: a common or leaked password, or close to one, or your name.",
                "太容易被猜到：这是常见或已泄露的密码、与之相近，或包含你的名字。",
            ),
        )
    else:
        return
    problem = as_problem({"password": [FieldError(code, texts=texts)]})
    raise InvalidInput("The password is not accepted.", **problem)


def _typeable(password: str) -> bool:
    """Characters a person can type: no control characters, no lone UTF-16 surrogates (which
    cannot be encoded to be hashed)."""
    return all(ch.isprintable() or ch == " " for ch in password) and not any(
        "\ud800" <= ch <= "\udfff" for ch in password
    )


def hash_password(password: str) -> str:
    return generate_password_hash(password)


def matches(stored: str, password: str) -> bool:
    """Whether the password is the one stored; one that cannot be encoded never is."""
    try:
        return check_password_hash(stored, password)
    except UnicodeEncodeError:
        return False
