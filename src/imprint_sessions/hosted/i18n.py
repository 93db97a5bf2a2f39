"""The hosted pages' words, in English and Spanish, and how a page picks its language.

The page is rendered before it knows who the customer is (the secret is exchanged afterwards, by
the page itself), so it is rendered in the browser's language (``Accept-Language``) and carries
both languages' strings; ``app.js`` switches to the customer's ``preferred_language`` as soon as
the session tells it. Placeholders in braces (``{partner}``) are filled in by ``app.js``.
"""

from __future__ import annotations

from typing import Final

DEFAULT_LANGUAGE: Final = "en"

STRINGS: Final[dict[str, dict[str, str]]] = {
    "en": {
        "page_title": "Apply",
        "noscript": "This application needs JavaScript. Please turn it on and reload.",
        "loading": "Loading…",
        "close": "Close",
        "done": "Done",
        "continue": "Continue",
        "working": "One moment…",
        "fix_fields": "Please correct the fields marked below.",
        "required": "Please fill this in.",
        "apply_with": "Apply with {partner}",
        # profile
        "profile_heading": "Review your details",
        "profile_intro": "We filled in what {partner} shared with us. Correct anything that is "
        "out of date.",
        "first_name": "First name",
        "last_name": "Last name",
        "email": "Email",
        "phone": "Mobile phone",
        "phone_hint": "With country code, for example +14155552671.",
        "date_of_birth": "Date of birth",
        "address": "Home address",
        "street_line1": "Street address",
        "street_line2": "Apartment or suite (optional)",
        "city": "City",
        "state": "State",
        "postal_code": "ZIP code",
        # phone verification
        "verify_heading": "Verify your phone",
        "verify_intro": "We sent a 6-digit code to {phone}.",
        "code": "Verification code",
        "sandbox_code": "Sandbox: the code is always 888888.",
        "verify": "Verify",
        "resend": "Send a new code",
        "code_sent": "We sent a new code.",
        "code_wrong": "That code is not right. Please try again.",
        "code_locked": "Too many tries. Send a new code to try again.",
        # application
        "apply_heading": "Apply",
        "product": "What would you like?",
        "type_CARD": "A credit card",
        "type_LOAN": "A loan",
        "ssn4": "Last 4 digits of your Social Security number",
        "housing_type": "Housing",
        "housing_RENT": "I rent",
        "housing_OWN": "I own",
        "housing_OTHER": "Other",
        "housing_cost": "Monthly housing cost ({currency}, whole amount)",
        "income_type": "Main source of income",
        "income_EMPLOYED": "Employed",
        "income_SELF-EMPLOYED": "Self-employed",
        "income_BUSINESS OWNER": "Business owner",
        "income_RETIREMENT": "Retirement",
        "income_UNEMPLOYMENT": "Unemployment benefits",
        "income_GOVTASSISTANCE": "Government assistance",
        "income_OTHER": "Other",
        "income_amount": "Yearly income ({currency}, whole amount)",
        "loan_amount": "Loan amount ({currency}, whole amount)",
        "term_months": "Term",
        "months": "{n} months",
        "submit_application": "Submit application",
        # offer
        "offer_heading": "You are approved",
        "offer_intro": "Here is your offer from {partner}.",
        "credit_limit": "Credit limit",
        "offer_loan_amount": "Loan amount",
        "apr": "APR",
        "accept_offer": "Accept offer",
        # results
        "done_heading": "Your card is ready",
        "done_heading_loan": "Your loan is ready",
        "have_heading": "You already have your card",
        "have_heading_loan": "You already have your loan",
        "done_card": "{network} card ending in",
        "done_loan": "Loan of {amount}",
        "done_text": "You can use it with {partner} right away.",
        "rejected_heading": "We can't approve your application",
        "rejected_text": "We will email you the reasons within 30 days.",
        "pending_heading": "We are reviewing your application",
        "pending_text": "We need a little more time. We will email you once we have decided.",
        "error_heading": "Something went wrong",
        "error_INVALID_CLIENT_SECRET": "This link has expired or was already used. Please go "
        "back and start again.",
        "error_NETWORK_CONNECTION_FAILED": "We could not reach our server. Please check your "
        "connection and try again.",
        "error_SERVER_ERROR": "Our server had a problem. Please try again in a moment.",
        "error_TIMEOUT_ERROR": "Our server took too long to answer. Please try again.",
        "error_UNKNOWN_ERROR": "Something unexpected happened. Please try again.",
    },
    "es": {
        "page_title": "Solicitud",
        "noscript": "Esta solicitud necesita JavaScript. Actívalo y vuelve a cargar la página.",
        "loading": "Cargando…",
        "close": "Cerrar",
        "done": "Listo",
        "continue": "Continuar",
        "working": "Un momento…",
        "fix_fields": "Corrige los campos marcados abajo.",
        "required": "Completa este campo.",
        "apply_with": "Solicita con {partner}",
        "profile_heading": "Revisa tus datos",
        "profile_intro": "Completamos lo que {partner} compartió con nosotros. Corrige lo que no "
        "esté al día.",
        "first_name": "Nombre",
        "last_name": "Apellido",
        "email": "Correo electrónico",
        "phone": "Teléfono móvil",
        "phone_hint": "Con el código de país, por ejemplo +14155552671.",
        "date_of_birth": "Fecha de nacimiento",
        "address": "Domicilio",
        "street_line1": "Dirección",
        "street_line2": "Apartamento o suite (opcional)",
        "city": "Ciudad",
        "state": "Estado",
        "postal_code": "Código postal",
        "verify_heading": "Verifica tu teléfono",
        "verify_intro": "Enviamos un código de 6 dígitos al {phone}.",
        "code": "Código de verificación",
        "sandbox_code": "Sandbox: el código siempre es 888888.",
        "verify": "Verificar",
        "resend": "Enviar un código nuevo",
        "code_sent": "Enviamos un código nuevo.",
        "code_wrong": "Ese código no es correcto. Inténtalo de nuevo.",
        "code_locked": "Demasiados intentos. Envía un código nuevo para volver a intentarlo.",
        "apply_heading": "Solicitud",
        "product": "¿Qué te gustaría?",
        "type_CARD": "Una tarjeta de crédito",
        "type_LOAN": "Un préstamo",
        "ssn4": "Últimos 4 dígitos de tu número de Seguro Social",
        "housing_type": "Vivienda",
        "housing_RENT": "Alquilo",
        "housing_OWN": "Es mía",
        "housing_OTHER": "Otra",
        "housing_cost": "Costo mensual de vivienda ({currency}, cantidad entera)",
        "income_type": "Fuente principal de ingresos",
        "income_EMPLOYED": "Empleado",
        "income_SELF-EMPLOYED": "Trabajador independiente",
        "income_BUSINESS OWNER": "Dueño de un negocio",
        "income_RETIREMENT": "Jubilación",
        "income_UNEMPLOYMENT": "Subsidio de desempleo",
        "income_GOVTASSISTANCE": "Asistencia del gobierno",
        "income_OTHER": "Otra",
        "income_amount": "Ingresos anuales ({currency}, cantidad entera)",
        "loan_amount": "Monto del préstamo ({currency}, cantidad entera)",
        "term_months": "Plazo",
        "months": "{n} meses",
        "submit_application": "Enviar solicitud",
        "offer_heading": "Estás aprobado",
        "offer_intro": "Esta es tu oferta de {partner}.",
        "credit_limit": "Límite de crédito",
        "offer_loan_amount": "Monto del préstamo",
        "apr": "Tasa anual (APR)",
        "accept_offer": "Aceptar oferta",
        "done_heading": "Tu tarjeta está lista",
        "done_heading_loan": "Tu préstamo está listo",
        "have_heading": "Ya tienes tu tarjeta",
        "have_heading_loan": "Ya tienes tu préstamo",
        "done_card": "Tarjeta {network} que termina en",
        "done_loan": "Préstamo de {amount}",
        "done_text": "Ya puedes usarla con {partner}.",
        "rejected_heading": "No podemos aprobar tu solicitud",
        "rejected_text": "Te enviaremos los motivos por correo electrónico en un plazo de 30 días.",
        "pending_heading": "Estamos revisando tu solicitud",
        "pending_text": "Necesitamos un poco más de tiempo. Te escribiremos cuando lo hayamos "
        "decidido.",
        "error_heading": "Algo salió mal",
        "error_INVALID_CLIENT_SECRET": "Este enlace caducó o ya se usó. Vuelve e inicia la "
        "solicitud de nuevo.",
        "error_NETWORK_CONNECTION_FAILED": "No pudimos conectar con nuestro servidor. Revisa tu "
        "conexión e inténtalo de nuevo.",
        "error_SERVER_ERROR": "Nuestro servidor tuvo un problema. Inténtalo de nuevo en un "
        "momento.",
        "error_TIMEOUT_ERROR": "Nuestro servidor tardó demasiado en responder. Inténtalo de nuevo.",
        "error_UNKNOWN_ERROR": "Ocurrió algo inesperado. Inténtalo de nuevo.",
    },
}

LANGUAGES: Final = tuple(STRINGS)


def _primary_subtag(tag: str) -> str:
    return tag.strip().split("-")[0].split("_")[0].lower()


def from_accept_language(header: str | None) -> str | None:
    """The first supported language of an ``Accept-Language`` header, by quality, or None."""
    if not header:
        return None
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")[:20]):  # bounded: the header is input
        tag, _, params = part.partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        ranked.append((-quality, position, _primary_subtag(tag)))
    for negative_quality, _, language in sorted(ranked):
        if negative_quality < 0 and language in STRINGS:
            return language
    return None


def pick_language(preferred: str | None, accept_language: str | None = None) -> str:
    """The customer's preferred language if supported, else the browser's, else English."""
    if preferred and _primary_subtag(preferred) in STRINGS:
        return _primary_subtag(preferred)
    return from_accept_language(accept_language) or DEFAULT_LANGUAGE


def translator(language: str) -> dict[str, str]:
    """Every string in ``language``; a key it lacks falls back to English."""
    return {**STRINGS[DEFAULT_LANGUAGE], **STRINGS.get(language, {})}
