"""Reference data of the demo company: pipelines and their stages, lead statuses, sources, names.

Order matters: generation draws from these tuples by position, so reordering them changes the world.
"""

from __future__ import annotations

PIPELINES: tuple[tuple[int, str, int], ...] = (
    (0, "Новые продажи", 100),
    (1, "Повторные продажи", 200),
    (2, "Тендеры", 300),
)

# (suffix, name, semantics: None open / "S" won / "F" lost)
STAGES: dict[int, tuple[tuple[str, str, str | None], ...]] = {
    0: (
        ("NEW", "Новая", None),
        ("PREPARATION", "Подготовка КП", None),
        ("PREPAYMENT_INVOICE", "Счёт на предоплату", None),
        ("EXECUTING", "В работе", None),
        ("FINAL_INVOICE", "Финальный счёт", None),
        ("WON", "Сделка успешна", "S"),
        ("LOSE", "Сделка провалена", "F"),
        ("APOLOGY", "Анализ причины провала", "F"),
    ),
    1: (
        ("NEW", "Новая", None),
        ("PREPARATION", "Согласование условий", None),
        ("EXECUTING", "Счёт выставлен", None),
        ("WON", "Сделка успешна", "S"),
        ("LOSE", "Сделка провалена", "F"),
    ),
    2: (
        ("NEW", "Новая закупка", None),
        ("PREPARATION", "Подготовка заявки", None),
        ("EXECUTING", "Заявка подана", None),
        ("FINAL_INVOICE", "Торги", None),
        ("WON", "Контракт заключён", "S"),
        ("LOSE", "Проигран", "F"),
    ),
}


def stage_id(pipeline_id: int, suffix: str) -> str:
    """Bitrix24 stage id: bare for pipeline 0, `C<N>:` prefixed for pipeline N."""
    return suffix if pipeline_id == 0 else f"C{pipeline_id}:{suffix}"


def open_stages(pipeline_id: int) -> list[str]:
    """The stage ids of a pipeline a deal can still be in (neither won nor lost), in funnel order."""
    return [stage_id(pipeline_id, s) for s, _, sem in STAGES[pipeline_id] if sem is None]


LEAD_STATUSES: tuple[tuple[str, str, str | None], ...] = (
    ("NEW", "Не обработан", None),
    ("IN_PROCESS", "В работе", None),
    ("PROCESSED", "Обработан", None),
    ("JUNK", "Некачественный лид", "F"),
    ("CONVERTED", "Качественный лид", "S"),
)

# SOURCE_ID, name, share of leads, lead->deal conversion, utm_source, utm_medium
SOURCES: tuple[tuple[str, str, float, float, str | None, str | None], ...] = (
    ("UC_YDIRECT", "Яндекс.Директ", 0.34, 0.30, "yandex", "cpc"),
    ("UC_VKADS", "VK Реклама", 0.15, 0.24, "vk", "cpc"),
    ("WEB", "Сайт (SEO)", 0.18, 0.36, "google", "organic"),
    ("UC_YOUTUBE", "YouTube", 0.05, 0.20, "youtube", "video"),
    ("RECOMMENDATION", "Рекомендация", 0.10, 0.52, None, None),
    ("CALL", "Входящий звонок", 0.12, 0.42, None, None),
    ("PARTNER", "Партнёр", 0.06, 0.48, None, None),
)
EXTRA_SOURCES: tuple[tuple[str, str], ...] = (
    ("COLD_CALL", "Холодный звонок"),
    ("REPEAT_SALE", "Повторная продажа"),
    ("UC_TENDER", "Тендерная площадка"),
    ("TRADE_SHOW", "Выставка"),
)
CAMPAIGNS = {
    "yandex": ("brand_search", "crm_search", "retarget_rsya", "competitors"),
    "vk": ("lookalike_b2b", "retarget_site", "lead_forms"),
    "google": ("organic",),
    "youtube": ("review_video", "webinar_promo"),
}
TERMS = ("crm для отдела продаж", "автоматизация продаж", "купить crm", "внедрение crm", None)

LOST_REASONS = ("Дорого", "Выбрали конкурента", "Нет бюджета", "Не выходит на связь", "Неактуально")
JUNK_REASONS = ("Не дозвонились", "Спам", "Нецелевой запрос", "Дубль", "Ищет работу")
PRODUCTS = ("Лицензии CRM", "Внедрение", "Интеграция с 1С", "Сервисный контракт", "Обучение", "Оборудование")

MALE = (
    "Алексей",
    "Дмитрий",
    "Сергей",
    "Андрей",
    "Максим",
    "Иван",
    "Никита",
    "Артём",
    "Михаил",
    "Павел",
    "Егор",
    "Роман",
    "Кирилл",
    "Денис",
    "Владимир",
    "Игорь",
    "Олег",
    "Евгений",
    "Антон",
    "Илья",
)
FEMALE = (
    "Анна",
    "Мария",
    "Елена",
    "Ольга",
    "Наталья",
    "Екатерина",
    "Татьяна",
    "Юлия",
    "Ирина",
    "Светлана",
    "Дарья",
    "Ксения",
    "Алина",
    "Полина",
    "Виктория",
    "Марина",
)
SURNAMES = (
    "Иванов",
    "Смирнов",
    "Кузнецов",
    "Попов",
    "Васильев",
    "Петров",
    "Соколов",
    "Михайлов",
    "Новиков",
    "Фёдоров",
    "Морозов",
    "Волков",
    "Алексеев",
    "Лебедев",
    "Семёнов",
    "Егоров",
    "Павлов",
    "Козлов",
    "Степанов",
    "Николаев",
    "Орлов",
    "Андреев",
    "Макаров",
    "Никитин",
    "Захаров",
    "Зайцев",
    "Соловьёв",
    "Борисов",
    "Яковлев",
    "Григорьев",
    "Романов",
    "Воробьёв",
    "Сергеев",
    "Кузьмин",
    "Фролов",
    "Александров",
    "Дмитриев",
    "Королёв",
    "Гусев",
    "Киселёв",
)
COMPANY_ROOTS = (
    "Альфа",
    "Вектор",
    "Гранит",
    "Дельта",
    "Заря",
    "Импульс",
    "Кристалл",
    "Лидер",
    "Меридиан",
    "Нева",
    "Орион",
    "Прогресс",
    "Ресурс",
    "Сибирь",
    "Темп",
    "Урал",
    "Феникс",
    "Эталон",
    "Юпитер",
    "Ясень",
    "Байкал",
    "Волга",
    "Горизонт",
    "Домострой",
    "Енисей",
    "Кедр",
)
COMPANY_TAILS = ("Трейд", "Групп", "Строй", "Логистик", "Софт", "Пром", "Сервис", "Маркет", "Агро", "Мед")
