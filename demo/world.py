"""The demo world: a seeded, deterministic generator of a sales company (docs/ARCHITECTURE.md "The demo world").

Why it exists: the product must run end to end on a machine with nothing configured, and the tests
need data whose true figures (and injected anomalies) are known. `generate()` builds the company in
memory; `World.write()` / `ensure_world()` lay it out as the files the demo portal serves
(Bitrix24-shaped JSON) plus the plan sheet, CBR rates and the anomalies' ground truth.

Determinism: everything draws from `random.Random` instances seeded from (seed, purpose); there is no
global state and no clock, so the same (size, today, seed) gives byte-identical files.
Time: all timestamps are Europe/Moscow wall time written `YYYY-MM-DDThh:mm:ss+03:00` (Moscow has
no DST since 2014, so the offset is constant). Internally a moment is an int of seconds since
00:00 of the generator's origin day (the world start minus a warm-up period).
"""
from __future__ import annotations

import bisect
from itertools import accumulate
import json
import math
import os
import random
import shutil
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Literal

Size = Literal["S", "M", "L"]

TIMEZONE = "Europe/Moscow"
MSK = timezone(timedelta(hours=3))
TZ_SUFFIX = "+03:00"
GENERATOR_VERSION = 3
DAY = 86400
WARMUP_DAYS = 60  # deals created before the start and still open at it are kept (a real funnel is never empty)

ENTITY_FILES = ("users", "departments", "categories", "statuses", "leads", "deals", "activities",
                "companies", "stage_history_deals", "stage_history_leads", "calls", "tasks")

# --------------------------------------------------------------------------------------------
# Sizes
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SizeSpec:
    """How big a world is: history length, departments (kind, name, managers) and rate multipliers."""

    months_back: int
    departments: tuple[tuple[str, str, int], ...]
    deal_scale: float
    lead_scale: float
    activity_scale: float
    hire_fire: bool
    zero_activity_anomalies: int
    lost_spikes: int
    big_wins: int


_M_DEPARTMENTS = (
    ("new", "Отдел продаж «Москва»", 9),
    ("new", "Отдел продаж «Регионы»", 8),
    ("corp", "Отдел корпоративных продаж и тендеров", 7),
)

SIZES: dict[str, SizeSpec] = {
    "S": SizeSpec(
        months_back=4,
        departments=(("new", "Отдел продаж «Москва»", 3), ("corp", "Отдел корпоративных продаж и тендеров", 2)),
        deal_scale=1.5,
        lead_scale=1.5,
        activity_scale=1.0,
        hire_fire=False,
        zero_activity_anomalies=2,
        lost_spikes=1,
        big_wins=1,
    ),
    "M": SizeSpec(
        months_back=24,
        departments=_M_DEPARTMENTS,
        deal_scale=1.0,
        lead_scale=1.0,
        activity_scale=1.0,
        hire_fire=True,
        zero_activity_anomalies=8,
        lost_spikes=3,
        big_wins=3,
    ),
    "L": SizeSpec(
        months_back=24,
        departments=tuple((k, f"{n} №{g}", c) for g in range(1, 11) for (k, n, c) in _M_DEPARTMENTS),
        deal_scale=1.0,
        lead_scale=1.0,
        activity_scale=1.0,
        hire_fire=True,
        zero_activity_anomalies=40,
        lost_spikes=15,
        big_wins=15,
    ),
}

# --------------------------------------------------------------------------------------------
# Reference data: pipelines, stages, sources, names
# --------------------------------------------------------------------------------------------

PIPELINES: tuple[tuple[int, str, int], ...] = ((0, "Новые продажи", 100), (1, "Повторные продажи", 200), (2, "Тендеры", 300))

# (suffix, name, semantics: None open / "S" won / "F" lost)
_STAGES: dict[int, tuple[tuple[str, str, str | None], ...]] = {
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


def _open_stages(pipeline_id: int) -> list[str]:
    return [stage_id(pipeline_id, s) for s, _, sem in _STAGES[pipeline_id] if sem is None]


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
_CAMPAIGNS = {
    "yandex": ("brand_search", "crm_search", "retarget_rsya", "competitors"),
    "vk": ("lookalike_b2b", "retarget_site", "lead_forms"),
    "google": ("organic",),
    "youtube": ("review_video", "webinar_promo"),
}
_TERMS = ("crm для отдела продаж", "автоматизация продаж", "купить crm", "внедрение crm", None)

LOST_REASONS = ("Дорого", "Выбрали конкурента", "Нет бюджета", "Не выходит на связь", "Неактуально")
JUNK_REASONS = ("Не дозвонились", "Спам", "Нецелевой запрос", "Дубль", "Ищет работу")
PRODUCTS = ("Лицензии CRM", "Внедрение", "Интеграция с 1С", "Сервисный контракт", "Обучение", "Оборудование")

_MALE = ("Алексей", "Дмитрий", "Сергей", "Андрей", "Максим", "Иван", "Никита", "Артём", "Михаил", "Павел",
         "Егор", "Роман", "Кирилл", "Денис", "Владимир", "Игорь", "Олег", "Евгений", "Антон", "Илья")
_FEMALE = ("Анна", "Мария", "Елена", "Ольга", "Наталья", "Екатерина", "Татьяна", "Юлия", "Ирина",
           "Светлана", "Дарья", "Ксения", "Алина", "Полина", "Виктория", "Марина")
_SURNAMES = ("Иванов", "Смирнов", "Кузнецов", "Попов", "Васильев", "Петров", "Соколов", "Михайлов",
             "Новиков", "Фёдоров", "Морозов", "Волков", "Алексеев", "Лебедев", "Семёнов", "Егоров",
             "Павлов", "Козлов", "Степанов", "Николаев", "Орлов", "Андреев", "Макаров", "Никитин",
             "Захаров", "Зайцев", "Соловьёв", "Борисов", "Яковлев", "Григорьев", "Романов", "Воробьёв",
             "Сергеев", "Кузьмин", "Фролов", "Александров", "Дмитриев", "Королёв", "Гусев", "Киселёв")
_COMPANY_ROOTS = ("Альфа", "Вектор", "Гранит", "Дельта", "Заря", "Импульс", "Кристалл", "Лидер", "Меридиан",
                  "Нева", "Орион", "Прогресс", "Ресурс", "Сибирь", "Темп", "Урал", "Феникс", "Эталон",
                  "Юпитер", "Ясень", "Байкал", "Волга", "Горизонт", "Домострой", "Енисей", "Кедр")
_COMPANY_TAILS = ("Трейд", "Групп", "Строй", "Логистик", "Софт", "Пром", "Сервис", "Маркет", "Агро", "Мед")

# Yearly shape of demand (sales) by calendar month; day-level effects are added in _Calendar.
_MONTH_SEASON = {1: 0.75, 2: 0.95, 3: 1.05, 4: 1.0, 5: 0.85, 6: 0.95, 7: 0.9, 8: 0.9, 9: 1.05, 10: 1.1,
                 11: 1.1, 12: 1.2}
_HOUR_WEIGHTS = ((9, 0.6), (10, 1.0), (11, 1.2), (12, 1.0), (13, 0.6), (14, 1.0), (15, 1.1), (16, 1.0),
                 (17, 0.8), (18, 0.4))


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------


def _rng(seed: int, purpose: str) -> random.Random:
    """An independent, reproducible stream per purpose (str seeds hash via SHA-512: stable)."""
    return random.Random(f"{seed}:{purpose}")


def _poisson(rng: random.Random, lam: float) -> int:
    """Knuth's method for small means; normal approximation above 30."""
    if lam <= 0:
        return 0
    if lam > 30:
        return max(0, int(round(rng.gauss(lam, math.sqrt(lam)))))
    limit = math.exp(-lam)
    k, p = 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def _add_months(d: date, months: int) -> date:
    total = d.year * 12 + d.month - 1 + months
    return date(total // 12, total % 12 + 1, 1)


def _russian_holidays(year: int) -> set[date]:
    """Non-working public holidays (simplified production calendar: fixed dates, weekend ones move to Monday)."""
    days = {date(year, 1, d) for d in range(1, 9)} | {date(year, 12, 31)}
    for m, d in ((2, 23), (3, 8), (5, 1), (5, 9), (6, 12), (11, 4)):
        h = date(year, m, d)
        days.add(h)
        if h.weekday() >= 5:
            days.add(h + timedelta(days=7 - h.weekday()))
    return days


def format_ts(origin: date, sec: int) -> str:
    """Internal moment -> Bitrix24 timestamp string in Moscow time."""
    d = origin + timedelta(days=sec // DAY)
    s = sec % DAY
    return f"{d.isoformat()}T{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}{TZ_SUFFIX}"


def _client_phone(owner: str) -> str:
    """A client's number, stable per CRM owner (the same derivation as the telephony export)."""
    rng = random.Random(f"phone:{owner}")
    return f"+79{rng.randint(10, 99)}{rng.randint(100, 999)}{rng.randint(10, 99)}{rng.randint(10, 99)}"


def parse_ts(value: str) -> datetime:
    """Bitrix24 timestamp string -> aware datetime (naive strings are read as Moscow time)."""
    dt = datetime.fromisoformat(value)
    return dt if dt.tzinfo else dt.replace(tzinfo=MSK)


# --------------------------------------------------------------------------------------------
# The World
# --------------------------------------------------------------------------------------------


@dataclass
class World:
    """The generated company in memory; lists of dicts exactly as written to the files.

    `users` ... `activities` are Bitrix24 records (UPPER_CASE keys, string values; `categories`
    camelCase as crm.category.list); so are `companies`, `stage_history_deals` / `_leads`
    (crm.stagehistory.list: typed numbers), `calls` (voximplant.statistic.get) and `tasks`
    (tasks.task.list: lowerCamel keys). `plan`, `rates`, `anomalies` are the CSV rows with typed values.
    """

    size: str
    seed: int
    today: date
    start: date
    timezone: str
    users: list[dict[str, Any]]
    departments: list[dict[str, Any]]
    categories: list[dict[str, Any]]
    statuses: list[dict[str, Any]]
    leads: list[dict[str, Any]]
    deals: list[dict[str, Any]]
    activities: list[dict[str, Any]]
    plan: list[dict[str, Any]]
    rates: list[dict[str, Any]]
    anomalies: list[dict[str, Any]]
    # crm.company.list, crm.stagehistory.list (entityTypeId 2 / 1), voximplant.statistic.get, tasks.task.list
    companies: list[dict[str, Any]] = field(default_factory=list)
    stage_history_deals: list[dict[str, Any]] = field(default_factory=list)
    stage_history_leads: list[dict[str, Any]] = field(default_factory=list)
    calls: list[dict[str, Any]] = field(default_factory=list)
    tasks: list[dict[str, Any]] = field(default_factory=list)
    _rate_index: dict[str, tuple[list[str], list[float]]] = field(default_factory=dict, repr=False, compare=False)

    @property
    def end(self) -> datetime:
        """The last moment of the world: `today` 23:59:59 Moscow."""
        return datetime.combine(self.today, datetime.max.time().replace(microsecond=0), MSK)

    @property
    def meta(self) -> dict[str, Any]:
        return {
            "size": self.size,
            "seed": self.seed,
            "today": self.today.isoformat(),
            "start": self.start.isoformat(),
            "timezone": self.timezone,
            "generator_version": GENERATOR_VERSION,
        }

    def managers(self) -> list[dict[str, Any]]:
        """Users who sell (those with a plan); the head of sales (user 1) is not one."""
        ids = {row["manager_id"] for row in self.plan}
        return [u for u in self.users if int(u["ID"]) in ids]

    def rate(self, day: date | str, char_code: str) -> float:
        """Rubles per ONE unit of `char_code` on `day`: the last CBR rate published on or before it."""
        if char_code == "RUB":
            return 1.0
        if not self._rate_index:
            for row in self.rates:
                days, values = self._rate_index.setdefault(row["char_code"], ([], []))
                days.append(row["date"])
                values.append(row["value"] / row["nominal"])
        key = day if isinstance(day, str) else day.isoformat()
        days, values = self._rate_index[char_code]
        i = bisect.bisect_right(days, key) - 1
        if i < 0:
            raise KeyError(f"no {char_code} rate on or before {key}")
        return values[i]

    def amount_rub(self, deal: dict[str, Any]) -> float:
        """A deal's amount in rubles at the CBR rate of its close day (Moscow business day of CLOSEDATE)."""
        return float(deal["OPPORTUNITY"]) * self.rate(deal["CLOSEDATE"][:10], deal["CURRENCY_ID"])

    def write(self, out_dir: Path) -> Path:
        """Write every file into `out_dir` (created); byte-identical for identical worlds."""
        out_dir = Path(out_dir)
        (out_dir / "bitrix24").mkdir(parents=True, exist_ok=True)
        for name in ENTITY_FILES:
            rows = getattr(self, name)
            body = "[\n" + ",\n".join(json.dumps(r, ensure_ascii=False, separators=(",", ":")) for r in rows) + "\n]\n"
            (out_dir / "bitrix24" / f"{name}.json").write_text(body if rows else "[]\n", encoding="utf-8")
        _write_csv(out_dir / "plan.csv",
                   ("month", "manager_id", "pipeline_id", "amount_rub", "deal_count", "bonus_threshold_pct", "bonus_rub"),
                   self.plan)
        _write_csv(out_dir / "cbr_rates.csv", ("date", "char_code", "nominal", "value"),
                   [{**r, "value": f"{r['value']:.4f}"} for r in self.rates])
        _write_csv(out_dir / "anomalies_truth.csv", ("day", "manager_id", "metric", "description"), self.anomalies)
        (out_dir / "world_meta.json").write_text(json.dumps(self.meta, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        return out_dir


def _write_csv(path: Path, columns: tuple[str, ...], rows: list[dict[str, Any]]) -> None:
    def cell(v: Any) -> str:
        s = "" if v is None else str(v)
        return '"' + s.replace('"', '""') + '"' if any(c in s for c in ',"\n') else s

    lines = [",".join(columns)] + [",".join(cell(r[c]) for c in columns) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def ensure_world(out_dir: Path, size: Size = "M", today: date | None = None, seed: int = 42) -> Path:
    """Return `out_dir` holding the world for (size, today, seed), generating it if absent.

    Written atomically (a sibling temp dir renamed into place), so concurrent callers and
    interrupted runs never leave a half-written world behind.
    """
    out_dir = Path(out_dir)
    today = today or date.today()
    meta_path = out_dir / "world_meta.json"
    if meta_path.exists():
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if (meta.get("size"), meta.get("seed"), meta.get("today"), meta.get("generator_version")) == (
            size, seed, today.isoformat(), GENERATOR_VERSION
        ):
            return out_dir
        shutil.rmtree(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_dir.parent / f".{out_dir.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        generate(size, today, seed).write(tmp)
        try:
            os.rename(tmp, out_dir)
        except OSError:
            if not (out_dir / "world_meta.json").exists():  # lost a race only if the winner finished
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return out_dir


def load_world(world_dir: Path) -> World:
    """Read a written world back into memory (typed CSV values)."""
    world_dir = Path(world_dir)
    meta = json.loads((world_dir / "world_meta.json").read_text(encoding="utf-8"))
    ents = {n: json.loads((world_dir / "bitrix24" / f"{n}.json").read_text(encoding="utf-8")) for n in ENTITY_FILES}

    def read_csv(name: str) -> list[dict[str, str]]:
        import csv

        with open(world_dir / name, newline="", encoding="utf-8") as f:
            return list(csv.DictReader(f))

    plan = [{"month": r["month"], "manager_id": int(r["manager_id"]), "pipeline_id": int(r["pipeline_id"]),
             "amount_rub": int(r["amount_rub"]), "deal_count": int(r["deal_count"]),
             "bonus_threshold_pct": int(r["bonus_threshold_pct"]), "bonus_rub": int(r["bonus_rub"])}
            for r in read_csv("plan.csv")]
    rates = [{"date": r["date"], "char_code": r["char_code"], "nominal": int(r["nominal"]), "value": float(r["value"])}
             for r in read_csv("cbr_rates.csv")]
    anomalies = [{"day": r["day"], "manager_id": int(r["manager_id"]), "metric": r["metric"],
                  "description": r["description"]} for r in read_csv("anomalies_truth.csv")]
    return World(size=meta["size"], seed=meta["seed"], today=date.fromisoformat(meta["today"]),
                  start=date.fromisoformat(meta["start"]), timezone=meta["timezone"], plan=plan, rates=rates,
                  anomalies=anomalies, **ents)


# --------------------------------------------------------------------------------------------
# Generation
# --------------------------------------------------------------------------------------------


@dataclass
class _Mgr:
    uid: int
    dept_id: int
    kind: str
    first: str
    last: str
    gender: str
    skill: float
    act: float
    win: float
    size: float
    pipelines: tuple[int, ...]
    tz: str
    shift_h: int
    hire: int  # first day index employed
    fire: int | None  # day index of dismissal (no work from this day on), None if employed
    burnout: bool = False


class _Gen:
    """One generation run; holds the calendar, rates and the internal entities."""

    def __init__(self, size: Size, today: date, seed: int) -> None:
        if size not in SIZES:
            raise ValueError(f"size must be one of {sorted(SIZES)}, got {size!r}")
        self.size, self.today, self.seed = size, today, seed
        self.spec = SIZES[size]
        self.start = _add_months(today.replace(day=1), -self.spec.months_back)
        self.origin = self.start - timedelta(days=WARMUP_DAYS)
        self.start_i = WARMUP_DAYS
        self.today_i = (today - self.origin).days
        self.n_days = self.today_i + 1
        self.end_sec = self.n_days * DAY - 1
        self.start_sec = self.start_i * DAY
        self._calendar()

    # ---- calendar -------------------------------------------------------------------------
    def _calendar(self) -> None:
        holidays: set[date] = set()
        for y in range(self.origin.year - 1, self.today.year + 2):
            holidays |= _russian_holidays(y)
        self.days = [self.origin + timedelta(days=i) for i in range(self.n_days + 40)]
        self.day_str = [d.isoformat() for d in self.days]
        self.working = [d.weekday() < 5 and d not in holidays for d in self.days]
        months: list[tuple[int, int]] = []
        self.month_of: list[int] = []
        for d in self.days:
            key = (d.year, d.month)
            if not months or months[-1] != key:
                months.append(key)
            self.month_of.append(len(months) - 1)
        self.months = months
        self.sales_f: list[float] = []
        self.act_f: list[float] = []
        self.lead_f: list[float] = []
        for i, d in enumerate(self.days):
            years = (d - self.start).days / 365.0
            trend = 1.0 + 0.10 * years
            season = _MONTH_SEASON[d.month]
            if d.month == 5 and d.day <= 11:
                season *= 0.55  # May holidays: people are at their dachas
            elif d.month == 12 and d.day >= 22:
                season *= 1.15  # year-end budget rush
            elif d.month == 1 and d.day <= 15:
                season *= 0.7  # slow restart after the New Year
            if self.working[i]:
                self.sales_f.append(season * trend)
                self.act_f.append(math.sqrt(season))
                self.lead_f.append(season * trend)
            else:
                self.sales_f.append(0.05 * season * trend)
                self.act_f.append(0.0)
                self.lead_f.append(0.3 * season * trend)
        self.work_days = [i for i in range(self.n_days + 40) if self.working[i]]
        self.month_index = {key: k for k, key in enumerate(months)}
        self.month_start_i = {}
        for i in range(len(self.days)):
            self.month_start_i.setdefault(self.month_of[i], i)

    def next_working(self, i: int) -> int:
        """The first working day index >= i."""
        k = bisect.bisect_left(self.work_days, i)
        return self.work_days[k]

    def moment(self, rng: random.Random, i: int, shift_h: int = 0) -> int:
        """A moment within working hours of day i (hour drawn from a two-humped office-day profile)."""
        hour = rng.choices(_HOURS, cum_weights=_HOUR_CUM)[0] - shift_h
        return i * DAY + hour * 3600 + rng.randrange(3600)

    # ---- rates ----------------------------------------------------------------------------
    def _rates(self) -> None:
        rng = _rng(self.seed, "rates")
        usd, eurusd, usdcny = 88.0 + rng.uniform(-6, 6), 1.08 + rng.uniform(-0.03, 0.03), 7.2 + rng.uniform(-0.1, 0.1)
        anchor = usd
        self.rates: list[dict[str, Any]] = []
        self.rate_days: list[int] = []
        self.rate_vals: dict[str, list[float]] = {"USD": [], "EUR": [], "CNY": []}
        first = self.start_i - 20
        for i in range(first, self.n_days):
            usd *= math.exp(rng.gauss(0, 0.006) + 0.02 * math.log(anchor / usd))
            eurusd *= math.exp(rng.gauss(0, 0.003) + 0.02 * math.log(1.08 / eurusd))
            usdcny *= math.exp(rng.gauss(0, 0.002) + 0.02 * math.log(7.2 / usdcny))
            if not self.working[i] and i != first:
                continue
            vals = {"USD": round(usd, 4), "EUR": round(usd * eurusd, 4), "CNY": round(usd / usdcny, 4)}
            self.rate_days.append(i)
            for code in ("USD", "EUR", "CNY"):
                self.rate_vals[code].append(vals[code])
                self.rates.append({"date": self.day_str[i], "char_code": code, "nominal": 1, "value": vals[code]})

    def rate(self, i: int, code: str) -> float:
        if code == "RUB":
            return 1.0
        k = bisect.bisect_right(self.rate_days, i) - 1
        return self.rate_vals[code][max(k, 0)]

    # ---- organisation ---------------------------------------------------------------------
    def _org(self) -> None:
        rng = _rng(self.seed, "org")
        self.departments = [{"ID": "1", "NAME": "ООО «Демо Продажи»", "SORT": "100", "UF_HEAD": "1"}]
        self.mgrs: list[_Mgr] = []
        names = [(f, s, "M") for f in _MALE for s in _SURNAMES] + [(f, s + "а", "F") for f in _FEMALE for s in _SURNAMES]
        rng.shuffle(names)
        name_iter = iter(names)
        uid = 2
        for d_no, (kind, dname, count) in enumerate(self.spec.departments):
            dept_id = d_no + 2
            first_uid = uid
            for k in range(count):
                first, last, gender = next(name_iter)
                skill = rng.uniform(0.7, 1.3) if k else rng.uniform(1.1, 1.3)  # the head sells well
                pipelines = (0, 1) if kind == "new" else (0, 1, 2)
                regional = "Регионы" in dname and k % 4 == 3
                self.mgrs.append(_Mgr(
                    uid=uid, dept_id=dept_id, kind=kind, first=first, last=last, gender=gender, skill=skill,
                    act=max(0.5, skill * rng.uniform(0.8, 1.2)), win=skill ** 0.6 * rng.uniform(0.9, 1.1),
                    size=rng.uniform(0.8, 1.25) * (1.2 if kind == "corp" else 1.0), pipelines=pipelines,
                    tz="Asia/Yekaterinburg" if regional else TIMEZONE, shift_h=2 if regional else 0,
                    hire=0, fire=None,
                ))
                uid += 1
            self.departments.append({"ID": str(dept_id), "NAME": dname, "SORT": str(100 * (d_no + 2)),
                                     "PARENT": "1", "UF_HEAD": str(first_uid)})
        n_months_world = self.month_of[self.today_i] - self.month_of[self.start_i] + 1
        m0 = self.month_of[self.start_i]
        # The burnout manager: a good seller in the first department; 3 good months, then a burnout month.
        self.burnout_month = m0 + (3 if n_months_world <= 6 else n_months_world - 5)
        self.mgrs[1].burnout = True
        self.mgrs[1].skill = max(self.mgrs[1].skill, 1.0)
        if self.spec.hire_fire:
            # One newcomer hired 8 months ago (ramps up), one leaver dismissed mid-month 5 months ago.
            new_dept = [m for m in self.mgrs if m.kind == "new" and not m.burnout]
            newcomer, leaver = new_dept[-1], new_dept[-2]
            newcomer.hire = self.next_working(self.month_start_i[self.month_of[self.today_i] - 8] + 3)
            newcomer.skill = newcomer.act = 0.8
            leaver.fire = self.month_start_i[self.month_of[self.today_i] - 5] + 14
        self.by_uid = {m.uid: m for m in self.mgrs}

    def form(self, m: _Mgr, i: int) -> tuple[float, float, float]:
        """(activity, sales, win) multipliers of manager m on day i: burnout story and newcomer ramp-up."""
        a = s = w = 1.0
        if m.burnout:
            mo = self.month_of[i]
            if self.burnout_month - 3 <= mo < self.burnout_month:
                a, s, w = 1.25, 1.2, 1.1
            elif mo == self.burnout_month:
                a, s, w = 0.3, 0.5, 0.7
            elif mo > self.burnout_month:
                a, s, w = 0.85, 0.85, 0.9
        if m.hire and i >= m.hire:
            ramp = min(1.0, 0.4 + 0.6 * (i - m.hire) / 90)
            s, w = s * ramp, w * (0.7 + 0.3 * ramp)
        return a, s, w

    def employed(self, m: _Mgr, i: int) -> bool:
        return i >= m.hire and (m.fire is None or i < m.fire)

    def work_moment(self, rng: random.Random, m: _Mgr, sec: int, allow_weekend: float = 0.0) -> int:
        """Move `sec` onto a working moment of m (working day, not absent), keeping it if already fine."""
        i = sec // DAY
        if i >= len(self.working) - 1:
            return sec
        ok = (self.working[i] or rng.random() < allow_weekend) and (m.uid, i) not in self.absent
        if ok:
            return sec
        j = i + 1
        while j < len(self.working) - 1 and (not self.working[j] or (m.uid, j) in self.absent):
            j += 1
        return self.moment(rng, j, m.shift_h)

    # ---- deals ----------------------------------------------------------------------------
    def new_deal(self, rng: random.Random, m: _Mgr, pipe: int, create: int, source: str, lead: dict | None,
                 company: int, repeat: bool) -> dict[str, Any]:
        """A deal with its whole life decided now: amount, currency, cycle, outcome (None = open at the end)."""
        i = create // DAY
        median = {0: 150_000, 1: 95_000, 2: 700_000}[pipe] * m.size * self.sales_trend(i)
        amount_rub = median * math.exp(rng.gauss(0, 0.3))
        foreign = rng.random() < (0.12 if m.kind == "corp" else 0.03)
        cycle = {0: 12.0, 1: 6.0, 2: 35.0}[pipe] * math.exp(rng.gauss(0, 0.7))
        close = create + int(cycle * DAY)
        close = self.work_moment(rng, m, close, allow_weekend=0.05)
        if close <= create:
            close = create + rng.randrange(1800, 5 * 3600)
        _, _, w = self.form(m, min(close // DAY, self.today_i))
        p_win = {0: 0.42, 1: 0.62, 2: 0.30}[pipe] * m.win * w
        deal = {
            "mgr": m.uid, "pipe": pipe, "create": create, "planned": close, "source": source, "lead": lead,
            "company": company, "repeat": repeat, "product": rng.choice(PRODUCTS),
            "won": rng.random() < min(0.9, max(0.05, p_win)), "close": close, "reassign": None,
            "lost_reason": None, "edit": None, "last_act": None, "id": 0,
        }
        if foreign:
            code = rng.choices(("USD", "EUR", "CNY"), weights=(5, 3, 2))[0]
            deal["currency"] = code
            deal["opp"] = f"{max(10, round(amount_rub / self.rate(i, code) / 10) * 10):.2f}"
        else:
            rub = max(1000.0, round(amount_rub, -2))
            if rng.random() < 0.2:
                rub -= 0.01
            deal["currency"], deal["opp"] = "RUB", f"{rub:.2f}"
        if not deal["won"]:
            deal["lost_reason"] = rng.choice(LOST_REASONS)
        if rng.random() < 0.15:
            # a later touch of some field (bumps DATE_MODIFY), in office hours some days after the last event
            deal["edit"] = rng.randint(1, 10) * DAY + rng.randrange(-3 * 3600, 3 * 3600)
        if close > self.end_sec:
            deal["close"] = None
        return deal

    def sales_trend(self, i: int) -> float:
        return 1.0 + 0.10 * (i - self.start_i) / 365.0

    def _leads_and_deals(self) -> None:
        spec = self.spec
        rng = _rng(self.seed, "leads")
        self.leads: list[dict[str, Any]] = []
        self.deals: list[dict[str, Any]] = []
        self.next_company = 1
        self.company_names: dict[int, str] = {}
        lead_mgrs = [m for m in self.mgrs if m.kind == "new"]
        src_w = [s[2] for s in SOURCES]
        for i in range(self.today_i + 1):
            active = [m for m in lead_mgrs if self.employed(m, i)]
            if not active:
                continue
            weights = [m.skill * self.form(m, i)[1] for m in active]
            n = _poisson(rng, 2.8 * spec.lead_scale * len(lead_mgrs) * self.lead_f[i])
            for _ in range(n):
                src = rng.choices(SOURCES, weights=src_w)[0]
                if self.working[i]:
                    create = i * DAY + rng.randrange(8 * 3600, 21 * 3600)
                else:
                    create = i * DAY + rng.randrange(9 * 3600, 23 * 3600)
                m = rng.choices(active, weights=weights)[0]
                utm = None
                if src[4]:
                    utm = (src[4], src[5], rng.choice(_CAMPAIGNS[src[4]]),
                           rng.choice(_TERMS) if src[4] == "yandex" else None)
                company = self.new_company(rng)
                a, _, w = self.form(m, i)
                converted = rng.random() < src[3] * m.win ** 0.5 * w
                outcome = self.work_moment(rng, m, create + int(rng.expovariate(1 / 20) * 3600))
                lead = {"mgr": m.uid, "create": create, "source": src[0], "utm": utm, "company": company,
                        "converted": converted, "close": outcome if outcome <= self.end_sec else None,
                        "junk": None if converted else rng.choice(JUNK_REASONS), "id": 0, "deal": None,
                        "reassign": None, "name": (rng.choice(_MALE + _FEMALE)), "last_act": None}
                self.leads.append(lead)
                if converted and lead["close"] is not None:
                    deal = self.new_deal(rng, m, 0, outcome, src[0], lead, company, False)
                    lead["deal"] = deal
                    self.deals.append(deal)
        # Hand-made deals (cold calls, tenders) and repeat sales, per manager in time order.
        for m in self.mgrs:
            mr = _rng(self.seed, f"deals-{m.uid}")
            wins: list[tuple[int, int]] = sorted(
                (d["close"], d["company"]) for d in self.deals if d["mgr"] == m.uid and d["won"] and d["close"]
            )
            heap_pos = 0
            customers: list[int] = []
            pending: list[tuple[int, int]] = []
            for i in range(self.today_i + 1):
                day_start = i * DAY
                while heap_pos < len(wins) and wins[heap_pos][0] < day_start:
                    if wins[heap_pos][0] >= self.start_sec:
                        customers.append(wins[heap_pos][1])
                    heap_pos += 1
                pending.sort()
                while pending and pending[0][0] < day_start:
                    t, comp = pending.pop(0)
                    if t >= self.start_sec:
                        customers.append(comp)
                if not self.employed(m, i) or (m.uid, i) in self.absent:
                    continue
                _, s, _ = self.form(m, i)
                f = self.sales_f[i] * s * spec.deal_scale * m.skill ** 0.5
                plan_rates = [(0, "COLD_CALL", 0.25 if m.kind == "new" else 0.45)]
                if m.kind == "corp":
                    plan_rates.append((2, "UC_TENDER", 0.55))
                if customers:
                    plan_rates.append((1, "REPEAT_SALE", min(0.5, 0.02 * len(customers))))
                for pipe, source, lam in plan_rates:
                    for _ in range(_poisson(mr, lam * f)):
                        create = self.moment(mr, i, m.shift_h)
                        if pipe == 1:
                            company, repeat = mr.choice(customers), True
                        else:
                            company, repeat = self.new_company(mr), False
                        deal = self.new_deal(mr, m, pipe, create, source, None, company, repeat)
                        self.deals.append(deal)
                        if deal["won"] and deal["close"]:
                            pending.append((deal["close"], company))

    def new_company(self, rng: random.Random) -> int:
        cid = self.next_company
        self.next_company += 1
        form = rng.choice(("ООО", "ООО", "АО", "ИП"))
        self.company_names[cid] = f"{form} «{rng.choice(_COMPANY_ROOTS)}{rng.choice(_COMPANY_TAILS)}»"
        return cid

    # ---- anomalies ------------------------------------------------------------------------
    def _pick_absences(self) -> None:
        """Zero-activity days chosen up front so deals and activities avoid them."""
        rng = _rng(self.seed, "absent")
        self.absent: set[tuple[int, int]] = set()
        self.truth: list[dict[str, Any]] = []
        candidates = [i for i in self.work_days if self.start_i + 10 <= i <= self.today_i - 3]
        burn = next(m for m in self.mgrs if m.burnout)
        taken_days: set[int] = set()
        while len(self.absent) < self.spec.zero_activity_anomalies:
            i = rng.choice(candidates)
            m = rng.choice(self.mgrs)
            if i in taken_days or not self.employed(m, i - 7) or not self.employed(m, i + 3):
                continue
            if m is burn and abs(self.month_of[i] - self.burnout_month) <= 1:
                continue
            self.absent.add((m.uid, i))
            taken_days.add(i)
            self.truth.append({"day": self.day_str[i], "manager_id": m.uid, "metric": "activities_total",
                               "description": "Ноль активностей за рабочий день (звонки, письма, встречи, задачи)"})
        # The morning alert needs something real to report: one manager is silent on the world's
        # last working day, so the demo's "today" always carries a known anomaly.
        last = max(i for i in self.work_days if i <= self.today_i)
        pool = [m for m in self.mgrs if not m.burnout and self.employed(m, last - 7) and self.employed(m, last)]
        silent = rng.choice(pool)
        self.absent.add((silent.uid, last))
        taken_days.add(last)
        self.truth.append({"day": self.day_str[last], "manager_id": silent.uid, "metric": "activities_total",
                           "description": "Ноль активностей в последний рабочий день (утренний алерт)"})
        self.anomaly_days = taken_days
        for i in range(self.start_i, self.today_i + 1):
            if self.working[i] and self.month_of[i] == self.burnout_month:
                self.truth.append({"day": self.day_str[i], "manager_id": burn.uid, "metric": "activities_total",
                                   "description": "Выгорание: активность упала примерно на 70% после трёх сильных месяцев"})

    def _inject_deal_anomalies(self) -> None:
        rng = _rng(self.seed, "spikes")
        candidates = [i for i in self.work_days if self.start_i + 20 <= i <= self.today_i - 2
                      and i not in self.anomaly_days]
        healthy = [m for m in self.mgrs if not m.burnout]
        done = 0
        tries = 0
        while done < self.spec.lost_spikes and tries < 500:
            tries += 1
            i = rng.choice(candidates)
            m = rng.choice(healthy)
            if not self.employed(m, i) or (m.uid, i) in self.absent:
                continue
            day_start, day_end = i * DAY, (i + 1) * DAY
            # stale deals that were heading for a loss anyway are closed in one sweep (a funnel clean-up)
            open_deals = [d for d in self.deals if d["mgr"] == m.uid and d["create"] < day_start and not d["won"]
                          and (d["close"] is None or d["close"] >= day_end)]
            if len(open_deals) < 12:
                continue
            victims = rng.sample(open_deals, min(len(open_deals), rng.randint(12, 18)))
            for d in victims:
                d["won"] = False
                d["close"] = i * DAY + rng.randrange(15 * 3600, 18 * 3600)
                d["lost_reason"] = "Неактуально"
                d["edit"] = None
            candidates.remove(i)
            self.anomaly_days.add(i)
            done += 1
            self.truth.append({"day": self.day_str[i], "manager_id": m.uid, "metric": "lost_count",
                               "description": f"Всплеск проигранных сделок: {len(victims)} закрыты как «Неактуально» за день"})
        done = 0
        tries = 0
        while done < self.spec.big_wins and tries < 500:
            tries += 1
            i = rng.choice(candidates)
            m = rng.choice([x for x in healthy if x.kind == "corp"] or healthy)
            if not self.employed(m, i - 40) or not self.employed(m, i) or (m.uid, i) in self.absent:
                continue
            create = self.moment(rng, i - rng.randint(25, 40), m.shift_h)
            create = self.work_moment(rng, m, create)
            deal = self.new_deal(rng, m, 0, create, "RECOMMENDATION", None, self.new_company(rng), False)
            rub = round(4_000_000 * m.size * rng.uniform(0.9, 1.3), -3)
            deal.update(won=True, close=self.moment(rng, i, m.shift_h), currency="RUB", opp=f"{rub:.2f}",
                        lost_reason=None, edit=None)
            self.deals.append(deal)
            candidates.remove(i)
            self.anomaly_days.add(i)
            done += 1
            self.truth.append({"day": self.day_str[i], "manager_id": m.uid, "metric": "won_rub",
                               "description": f"Крупная сделка на {rub:,.0f} ₽ — в разы выше обычной выручки менеджера за день".replace(",", " ")})

    def _dismissals(self) -> None:
        """A leaver's open deals and leads pass to a colleague of the same department on the dismissal day."""
        rng = _rng(self.seed, "fire")
        for m in self.mgrs:
            if m.fire is None:
                continue
            heirs = [x for x in self.mgrs if x.dept_id == m.dept_id and x is not m and x.fire is None and not x.hire]
            t = self.moment(rng, self.next_working(m.fire), 0)
            for rec in (*self.deals, *self.leads):
                if rec["mgr"] != m.uid or (rec["close"] is not None and rec["close"] <= t):
                    continue
                if rec["create"] < t:
                    rec["reassign"] = (rng.choice(heirs).uid, t)
                else:  # converted from the leaver's lead after he left: the heir creates it
                    rec["mgr"] = rng.choice(heirs).uid

    # ---- activities -----------------------------------------------------------------------
    def _activities(self) -> None:
        spec = self.spec
        self.acts: list[tuple] = []
        # per manager: work items (start, end, kind 'D'/'L', record)
        items: dict[int, list[tuple[int, int, int, dict]]] = {m.uid: [] for m in self.mgrs}
        for kind, recs in ((2, self.deals), (1, self.leads)):
            for r in recs:
                end = r["close"] if r["close"] is not None else self.end_sec
                if r["reassign"]:
                    heir, t = r["reassign"]
                    items[r["mgr"]].append((r["create"], t, kind, r))
                    items[heir].append((t, end, kind, r))
                else:
                    items[r["mgr"]].append((r["create"], end, kind, r))
        for m in self.mgrs:
            rng = _rng(self.seed, f"acts-{m.uid}")
            its = sorted(items[m.uid], key=lambda x: (x[0], x[2], x[3]["create"]))
            pos = 0
            active: list[tuple[int, int, int, dict]] = []
            for i in range(self.start_i, self.today_i + 1):
                day_start, day_end = i * DAY, (i + 1) * DAY
                while pos < len(its) and its[pos][0] < day_end:
                    active.append(its[pos])
                    pos += 1
                active = [x for x in active if x[1] >= day_start]
                if not self.employed(m, i) or (m.uid, i) in self.absent:
                    continue
                a, _, _ = self.form(m, i)
                if self.working[i]:
                    f = self.act_f[i] * a * spec.activity_scale
                elif rng.random() < 0.08:
                    f = 0.15
                else:
                    continue
                deals_open = [x for x in active if x[2] == 2]
                leads_open = [x for x in active if x[2] == 1]
                counts = (
                    ("call_out", _poisson(rng, 5.6 * m.act * f)),
                    ("call_in", _poisson(rng, 1.6 * f)),
                    ("email", _poisson(rng, 1.6 * m.act * f)),
                    ("meeting", _poisson(rng, (0.5 if m.kind == "corp" else 0.25) * f)),
                    ("task", _poisson(rng, 0.9 * f)),
                )
                for kind, n in counts:
                    for _ in range(n):
                        t = self.moment(rng, i, m.shift_h)
                        if t > self.end_sec:
                            continue
                        # the owner: an open lead or deal of the manager at that moment, else a company
                        pool = leads_open if (leads_open and (not deals_open or rng.random() < 0.3)) else deals_open
                        cands = [x for x in pool[-40:] if x[0] <= t <= x[1]] if pool else []
                        owner = rng.choice(cands) if cands else None
                        self.acts.append(self._activity(rng, m, kind, t, owner))

    def _activity(self, rng: random.Random, m: _Mgr, kind: str, t: int, owner: tuple | None) -> tuple:
        """One activity as a tuple (created, kind, ...) turned into a record once ids are assigned."""
        duration = 0
        completed = True
        deadline = None
        updated = t
        direction = 0
        subject = ""
        if kind == "call_out":
            direction = 2
            if rng.random() < 0.72:
                duration = int(min(3600, 20 + rng.lognormvariate(4.9, 0.8)))
                subject = "Исходящий звонок"
            else:
                subject = "Исходящий звонок (не дозвонился)"
        elif kind == "call_in":
            direction = 1
            if rng.random() < 0.86:
                duration = int(min(3600, 20 + rng.lognormvariate(4.7, 0.8)))
                subject = "Входящий звонок"
            else:
                subject, completed = "Пропущенный звонок", False
        elif kind == "email":
            direction = 2 if rng.random() < 0.75 else 1
            subject = "Коммерческое предложение" if direction == 2 else "Re: Коммерческое предложение"
        elif kind == "meeting":
            direction = 0
            duration = rng.choice((1800, 3600, 3600, 5400))
            subject = rng.choice(("Встреча с клиентом", "Презентация продукта", "Демонстрация"))
        else:  # task
            subject = rng.choice(("Перезвонить клиенту", "Подготовить КП", "Отправить договор", "Уточнить бюджет"))
            deadline = (t // DAY + rng.choice((0, 1, 1, 2, 3, 5))) * DAY + 18 * 3600
            if rng.random() < 0.88:
                done = t + int(rng.expovariate(1 / (20 * 3600)))
                done = self.work_moment(rng, m, done)
                if done <= self.end_sec:
                    updated = done
                else:
                    completed = False
            else:
                completed = False
        if updated == t and duration and kind != "meeting":
            updated = t + duration
        if updated > self.end_sec:
            updated = self.end_sec
        if owner is not None:
            owner[3]["last_act"] = max(owner[3]["last_act"] or 0, t)
        return (t, kind, direction, duration, completed, deadline, updated, subject, m.uid, owner)

    # ---- plan -----------------------------------------------------------------------------
    def _plan(self) -> None:
        rng = _rng(self.seed, "plan")
        m0, m_last = self.month_of[self.start_i], self.month_of[self.today_i]
        actual: dict[tuple[int, int, int], float] = {}
        counts: dict[tuple[int, int, int], int] = {}
        for d in self.deals:
            if d["won"] and d["close"] is not None and d["close"] >= self.start_sec:
                mgr = d["reassign"][0] if d["reassign"] else d["mgr"]
                ci = d["close"] // DAY
                key = (mgr, d["pipe"], self.month_of[ci])
                actual[key] = actual.get(key, 0.0) + float(d["opp"]) * self.rate(ci, d["currency"])
                counts[key] = counts.get(key, 0) + 1
        # seasonal capacity of each month: sum of daily sales factors over the whole month
        # (lagged by the deal cycle: what is won on day i was created in the weeks before it)
        cap: dict[int, float] = {}
        window = 21
        run = sum(self.sales_f[:window])
        for i in range(window, len(self.days)):
            run += self.sales_f[i] - self.sales_f[i - window]
            mo = self.month_of[i]
            cap[mo] = cap.get(mo, 0.0) + run / window
        # ...blended with the company's own monthly shape (planners know January from last January)
        company: dict[int, float] = {}
        for (_, _, mo), rub in actual.items():
            company[mo] = company.get(mo, 0.0) + rub
        full = [mo for mo in range(m0, m_last)]
        if full:
            scale = sum(cap[mo] for mo in full) / max(1.0, sum(company.get(mo, 0.0) for mo in full))
            for mo in full:
                cap[mo] = 0.5 * cap[mo] + 0.5 * company.get(mo, 0.0) * scale
        self.plan: list[dict[str, Any]] = []
        for m in self.mgrs:
            first = max(m0, self.month_of[m.hire])
            last = m_last if m.fire is None else min(m_last, self.month_of[m.fire])
            for pipe in m.pipelines:
                level = [actual.get((m.uid, pipe, mo), 0.0) / cap[mo] for mo in range(m0, m_last + 1)]
                complete = [lv for mo, lv in zip(range(m0, m_last + 1), level) if mo < m_last]
                longrun = sum(complete) / len(complete) if complete else level[0]
                won_n = sum(counts.get((m.uid, pipe, mo), 0) for mo in range(m0, m_last + 1))
                won_rub = sum(actual.get((m.uid, pipe, mo), 0.0) for mo in range(m0, m_last + 1))
                avg_deal = won_rub / won_n if won_n else 150_000.0
                for mo in range(first, last + 1):
                    k = mo - m0
                    trailing = [level[j] for j in range(max(0, k - 3), k)]
                    if trailing:
                        base = 0.35 * sum(trailing) / len(trailing) + 0.65 * longrun
                    else:
                        base = 0.5 * level[0] + 0.5 * longrun
                    amount = base * cap[mo] * rng.uniform(0.92, 1.08)
                    if m.hire and mo == self.month_of[m.hire]:
                        amount *= 0.5
                    amount = max(50_000, int(round(amount, -4)))
                    y, mm = self.months[mo]
                    threshold = 90 if m.kind == "corp" else 100
                    self.plan.append({
                        "month": f"{y:04d}-{mm:02d}", "manager_id": m.uid, "pipeline_id": pipe, "amount_rub": amount,
                        "deal_count": max(1, round(amount / avg_deal)), "bonus_threshold_pct": threshold,
                        "bonus_rub": int(round(amount * 0.03, -3)),
                    })
        self.plan.sort(key=lambda r: (r["month"], r["manager_id"], r["pipeline_id"]))

    # ---- output ---------------------------------------------------------------------------
    def run(self) -> World:
        self._rates()
        self._org()
        self._pick_absences()
        self._leads_and_deals()
        self._inject_deal_anomalies()
        # drop the warm-up: leads before the start, deals closed before it (open ones stay, without their lead)
        self.leads = [ld for ld in self.leads if ld["create"] >= self.start_sec]
        self.deals = [d for d in self.deals if d["close"] is None or d["close"] >= self.start_sec]
        for d in self.deals:
            if d["lead"] is not None and d["lead"]["create"] < self.start_sec:
                d["lead"] = None
        self._dismissals()
        self._activities()
        self._plan()
        return self._records()

    def ts(self, sec: int) -> str:
        return format_ts(self.origin, sec)

    def _records(self) -> World:
        fmt = self.ts
        # ids follow creation order, as in a real CRM
        self.leads.sort(key=lambda r: (r["create"], r["mgr"]))
        for n, r in enumerate(self.leads, start=1):
            r["id"] = n
        self.deals.sort(key=lambda r: (r["create"], r["mgr"], r["pipe"]))
        for n, r in enumerate(self.deals, start=1):
            r["id"] = n
        self.acts.sort(key=lambda a: (a[0], a[8]))

        users = [{
            "ID": "1", "ACTIVE": True, "NAME": "Виктор", "LAST_NAME": "Руденко", "SECOND_NAME": "",
            "EMAIL": "rudenko@demo-sales.ru", "PERSONAL_GENDER": "M", "WORK_POSITION": "Руководитель отдела продаж",
            "UF_DEPARTMENT": [1], "TIME_ZONE": TIMEZONE,
            "DATE_REGISTER": f"{(self.start - timedelta(days=400)).isoformat()}T09:00:00{TZ_SUFFIX}",
            "USER_TYPE": "employee", "IS_ONLINE": "N",
        }]
        for k, m in enumerate(self.mgrs):
            reg = (self.start - timedelta(days=200 + 17 * k)) if not m.hire else self.days[m.hire]
            users.append({
                "ID": str(m.uid), "ACTIVE": m.fire is None, "NAME": m.first, "LAST_NAME": m.last, "SECOND_NAME": "",
                "EMAIL": f"user{m.uid}@demo-sales.ru", "PERSONAL_GENDER": m.gender,
                "WORK_POSITION": "Руководитель группы" if str(m.uid) in {d["UF_HEAD"] for d in self.departments}
                else "Менеджер по продажам",
                "UF_DEPARTMENT": [m.dept_id], "TIME_ZONE": m.tz,
                "DATE_REGISTER": f"{reg.isoformat()}T09:00:00{TZ_SUFFIX}", "USER_TYPE": "employee", "IS_ONLINE": "N",
            })
        categories = [{"id": pid, "name": name, "sort": sort, "entityTypeId": 2, "isDefault": "Y" if pid == 0 else "N"}
                      for pid, name, sort in PIPELINES]
        statuses: list[dict[str, Any]] = []
        sid = 1

        def status(entity: str, status_id: str, name: str, sort: int, sem: str | None, cat: str | None) -> None:
            nonlocal sid
            statuses.append({"ID": str(sid), "ENTITY_ID": entity, "STATUS_ID": status_id, "NAME": name,
                             "NAME_INIT": name, "SORT": str(sort), "SYSTEM": "Y" if sem or sort == 10 else "N",
                             "SEMANTICS": sem, "CATEGORY_ID": cat,
                             "EXTRA": {"SEMANTICS": {None: "process", "S": "success", "F": "failure"}[sem]}})
            sid += 1

        for pid, _, _ in PIPELINES:
            entity = "DEAL_STAGE" if pid == 0 else f"DEAL_STAGE_{pid}"
            for n, (suffix, name, sem) in enumerate(_STAGES[pid], start=1):
                status(entity, stage_id(pid, suffix), name, n * 10, sem, str(pid))
        for n, (st, name, sem) in enumerate(LEAD_STATUSES, start=1):
            status("STATUS", st, name, n * 10, sem, None)
        for n, (src, name) in enumerate([(s[0], s[1]) for s in SOURCES] + list(EXTRA_SOURCES), start=1):
            statuses.append({"ID": str(sid), "ENTITY_ID": "SOURCE", "STATUS_ID": src, "NAME": name, "NAME_INIT": name,
                             "SORT": str(n * 10), "SYSTEM": "N", "SEMANTICS": None, "CATEGORY_ID": None, "EXTRA": None})
            sid += 1

        contact = lambda company: str(company + 500_000)  # noqa: E731 - one contact per company
        leads_out = []
        for r in self.leads:
            owner = r["reassign"][0] if r["reassign"] else r["mgr"]
            closed = r["close"] is not None
            if closed:
                st = "CONVERTED" if r["converted"] else "JUNK"
            else:
                st = "NEW" if self.end_sec - r["create"] < 6 * 3600 else ("IN_PROCESS" if r["id"] % 3 else "PROCESSED")
            modify = r["close"] if closed else r["create"]
            if r["reassign"]:
                modify = max(modify, r["reassign"][1])
            utm = r["utm"] or (None, None, None, None)
            leads_out.append({
                "ID": str(r["id"]), "TITLE": f"Заявка: {self.company_names[r['company']]}", "NAME": r["name"],
                "LAST_NAME": None, "COMPANY_TITLE": self.company_names[r["company"]],
                "STATUS_ID": st, "STATUS_SEMANTIC_ID": {"CONVERTED": "S", "JUNK": "F"}.get(st, "P"),
                "STATUS_DESCRIPTION": r["junk"] if st == "JUNK" else None,
                "SOURCE_ID": r["source"], "SOURCE_DESCRIPTION": None, "CURRENCY_ID": "RUB", "OPPORTUNITY": "0.00",
                "IS_RETURN_CUSTOMER": "N", "ASSIGNED_BY_ID": str(owner), "CREATED_BY_ID": "1",
                "MODIFY_BY_ID": str(owner), "DATE_CREATE": fmt(r["create"]), "DATE_MODIFY": fmt(modify),
                "DATE_CLOSED": fmt(r["close"]) if closed else None,
                "COMPANY_ID": str(r["company"]) if st == "CONVERTED" else None,
                "CONTACT_ID": contact(r["company"]) if st == "CONVERTED" else None, "OPENED": "Y",
                "UTM_SOURCE": utm[0], "UTM_MEDIUM": utm[1], "UTM_CAMPAIGN": utm[2], "UTM_CONTENT": None,
                "UTM_TERM": utm[3],
                "LAST_ACTIVITY_TIME": fmt(r["last_act"]) if r["last_act"] else fmt(r["create"]),
                "UF_CRM_JUNK_REASON": r["junk"] if st == "JUNK" else None,
            })
        deals_out = []
        deal_paths: list[tuple] = []
        for r in self.deals:
            pid = r["pipe"]
            owner = r["reassign"][0] if r["reassign"] else r["mgr"]
            closed = r["close"] is not None
            if closed:
                if r["won"]:
                    stage = stage_id(pid, "WON")
                elif pid == 0 and r["id"] % 7 == 0:
                    stage = "APOLOGY"
                else:
                    stage = stage_id(pid, "LOSE")
                moved = r["close"]
                modify = r["close"]
            else:
                opens = _open_stages(pid)
                frac = (self.end_sec - r["create"]) / max(1, r["planned"] - r["create"])
                k = min(len(opens) - 1, int(frac * len(opens)))
                stage = opens[k]
                moved = r["create"] + int((self.end_sec - r["create"]) * (0.3 + 0.6 * ((r["id"] * 7919) % 100) / 100)) if k else r["create"]
                modify = moved
            if r["reassign"]:
                modify = max(modify, r["reassign"][1])
            if r["edit"] is not None and modify + r["edit"] <= self.end_sec:
                modify += r["edit"]
            lead = r["lead"]
            deal_paths.append((r, stage, moved, closed, owner))
            utm = (lead["utm"] if lead else None) or (None, None, None, None)
            deals_out.append({
                "ID": str(r["id"]), "TITLE": f"{r['product']} — {self.company_names[r['company']]}", "TYPE_ID": "SALE",
                "CATEGORY_ID": str(pid), "STAGE_ID": stage,
                "STAGE_SEMANTIC_ID": ("S" if r["won"] else "F") if closed else "P",
                "IS_NEW": "Y" if stage.endswith("NEW") else "N", "IS_RECURRING": "N",
                "IS_RETURN_CUSTOMER": "Y" if r["repeat"] else "N", "IS_REPEATED_APPROACH": "N", "PROBABILITY": None,
                "CURRENCY_ID": r["currency"], "OPPORTUNITY": r["opp"], "IS_MANUAL_OPPORTUNITY": "N",
                "TAX_VALUE": "0.00", "COMPANY_ID": str(r["company"]), "CONTACT_ID": contact(r["company"]),
                "QUOTE_ID": None, "BEGINDATE": f"{self.day_str[r['create'] // DAY]}T00:00:00{TZ_SUFFIX}",
                "CLOSEDATE": fmt(r["close"]) if closed else f"{(self.origin + timedelta(days=r['planned'] // DAY)).isoformat()}T00:00:00{TZ_SUFFIX}",
                "OPENED": "Y", "CLOSED": "Y" if closed else "N", "COMMENTS": None,
                "ASSIGNED_BY_ID": str(owner), "CREATED_BY_ID": str(r["mgr"]), "MODIFY_BY_ID": str(owner),
                "MOVED_BY_ID": str(owner), "DATE_CREATE": fmt(r["create"]), "DATE_MODIFY": fmt(modify),
                "MOVED_TIME": fmt(moved), "SOURCE_ID": r["source"], "SOURCE_DESCRIPTION": None,
                "LEAD_ID": str(lead["id"]) if lead else None, "ADDITIONAL_INFO": None, "ORIGINATOR_ID": None,
                "ORIGIN_ID": None, "UTM_SOURCE": utm[0], "UTM_MEDIUM": utm[1], "UTM_CAMPAIGN": utm[2],
                "UTM_CONTENT": None, "UTM_TERM": utm[3],
                "LAST_ACTIVITY_TIME": fmt(r["last_act"]) if r["last_act"] else fmt(r["create"]),
                "LAST_ACTIVITY_BY": str(owner),
                "UF_CRM_LOST_REASON": r["lost_reason"] if closed and not r["won"] else None,
                "UF_CRM_PRODUCT": r["product"],
            })
        type_ids = {"call_out": ("2", "VOXIMPLANT_CALL", "CALL"), "call_in": ("2", "VOXIMPLANT_CALL", "CALL"),
                    "email": ("4", "CRM_EMAIL", "EMAIL"), "meeting": ("1", "CRM_MEETING", "MEETING"),
                    "task": ("3", "CRM_TASKS_TASK", "TASK")}
        acts_out = []
        for n, (t, kind, direction, duration, completed, deadline, updated, subject, uid, owner) in enumerate(self.acts, 1):
            type_id, provider, provider_type = type_ids[kind]
            if owner is None:
                owner_type, owner_id = "4", "0"
            else:
                owner_type, owner_id = str(owner[2]), str(owner[3]["id"])
            end = t + duration
            acts_out.append({
                "ID": str(n), "OWNER_ID": owner_id, "OWNER_TYPE_ID": owner_type, "TYPE_ID": type_id,
                "PROVIDER_ID": provider, "PROVIDER_TYPE_ID": provider_type, "DIRECTION": str(direction),
                "SUBJECT": subject, "COMPLETED": "Y" if completed else "N", "STATUS": "2" if completed else "1",
                "PRIORITY": "2", "RESPONSIBLE_ID": str(uid), "AUTHOR_ID": str(uid), "EDITOR_ID": str(uid),
                "CREATED": fmt(t), "LAST_UPDATED": fmt(updated), "START_TIME": fmt(t), "END_TIME": fmt(end),
                "DEADLINE": fmt(deadline) if deadline is not None else fmt(end),
            })
        anomalies = sorted(self.truth, key=lambda r: (r["day"], r["manager_id"], r["metric"]))
        extra = self._crm_extras(deal_paths, leads_out, deals_out, acts_out)
        return World(
            size=self.size, seed=self.seed, today=self.today, start=self.start, timezone=TIMEZONE,
            users=users, departments=self.departments, categories=categories, statuses=statuses,
            leads=leads_out, deals=deals_out, activities=acts_out, plan=self.plan, rates=self.rates,
            anomalies=anomalies, **extra,
        )

    # ---- stage history, calls, tasks, companies ---------------------------------------------
    def _crm_extras(self, deal_paths: list[tuple], leads_out: list[dict], deals_out: list[dict],
                    acts_out: list[dict]) -> dict[str, list[dict[str, Any]]]:
        """What Bitrix24 keeps beside the deals: their stage paths, the telephony log, tasks, companies.

        Every record is derived from the deals/leads/activities already decided (its own seeded
        stream), so it tells the same story: a deal's history runs created -> intermediate stages ->
        its current (or final) stage at MOVED_TIME; each call activity is one voximplant record;
        each task activity one task.
        """
        fmt = self.ts
        rng = _rng(self.seed, "stagehistory")
        hist: list[tuple[int, int, int, str, str, int]] = []  # (time, deal id, type, stage, semantic, category)
        for r, stage, moved, closed, _owner in deal_paths:
            pid = r["pipe"]
            opens = _open_stages(pid)
            create = r["create"]
            if closed:
                # won deals walk every open stage; lost ones give up somewhere along the way
                reach = len(opens) if r["won"] else 1 + rng.randrange(len(opens))
                path = opens[:reach]
                final = (stage, "S" if r["won"] else "F")
            else:
                path = opens[: opens.index(stage) + 1]
                final = None
            hist.append((create, r["id"], 1, path[0], "P", pid))
            # intermediate stages evenly (jittered) between creation and MOVED_TIME; an open deal
            # entered its current stage exactly at MOVED_TIME
            mids = path[1:] if closed else path[1:-1]
            span = max(0, moved - create)
            prev = create
            for j, st in enumerate(mids):
                t = create + int(span * (j + 1 + rng.uniform(-0.25, 0.25)) / (len(mids) + 1))
                t = min(max(t, prev), moved)
                hist.append((t, r["id"], 2, st, "P", pid))
                prev = t
            if not closed and len(path) > 1:
                hist.append((moved, r["id"], 2, path[-1], "P", pid))
            if final is not None:
                hist.append((moved, r["id"], 3, final[0], final[1], pid))
        hist.sort(key=lambda h: (h[0], h[1], h[2]))
        stage_history_deals = [
            {"ID": n, "TYPE_ID": type_id, "OWNER_ID": deal_id, "CREATED_TIME": fmt(t), "CATEGORY_ID": pid,
             "STAGE_SEMANTIC_ID": sem, "STAGE_ID": st}
            for n, (t, deal_id, type_id, st, sem, pid) in enumerate(hist, start=1)
        ]
        lhist: list[tuple[int, int, int, str, str]] = []
        for r, out in zip(self.leads, leads_out):
            lhist.append((r["create"], r["id"], 1, "NEW", "P"))
            status = out["STATUS_ID"]
            if r["close"] is None:
                if status != "NEW":
                    t = r["create"] + min(3 * 3600, (self.end_sec - r["create"]) // 2)
                    lhist.append((t, r["id"], 2, status, "P"))
            else:
                if r["close"] - r["create"] > 600:
                    lhist.append((r["create"] + (r["close"] - r["create"]) // 3, r["id"], 2, "IN_PROCESS", "P"))
                lhist.append((r["close"], r["id"], 3, status, out["STATUS_SEMANTIC_ID"]))
        lhist.sort(key=lambda h: (h[0], h[1], h[2]))
        stage_history_leads = [
            {"ID": n, "TYPE_ID": type_id, "OWNER_ID": lead_id, "CREATED_TIME": fmt(t), "STATUS_ID": st,
             "STATUS_SEMANTIC_ID": sem}
            for n, (t, lead_id, type_id, st, sem) in enumerate(lhist, start=1)
        ]

        # voximplant.statistic.get: one record per call activity, plus missed calls from numbers the CRM
        # does not know (nobody calls them back: they are the missed-call registry's lost contacts)
        crng = _rng(self.seed, "calls")
        entity = {"1": "LEAD", "2": "DEAL", "4": "COMPANY"}
        calls: list[tuple[str, int, dict[str, Any]]] = []
        for a in acts_out:
            if a["PROVIDER_ID"] != "VOXIMPLANT_CALL":
                continue
            start = a["START_TIME"]
            duration = int((parse_ts(a["END_TIME"]) - parse_ts(start)).total_seconds())
            inbound = a["DIRECTION"] == "1"
            if duration > 0:
                code, reason = "200", "Success call"
            elif inbound:
                code, reason = "304", "Missed call"
            else:
                code, reason = crng.choice((("304", "Missed call"), ("486", "Busy here"), ("603", "Decline")))
            owner_key = f"{a['OWNER_TYPE_ID']}:{a['OWNER_ID']}" if a["OWNER_ID"] != "0" else f"act:{a['ID']}"
            calls.append((start, int(a["ID"]), {
                "CALL_ID": f"externalCall.{int(a['ID']):08x}", "CALL_TYPE": "2" if inbound else "1",
                "CALL_FAILED_CODE": code, "CALL_FAILED_REASON": reason, "CALL_START_DATE": start,
                "CALL_DURATION": str(duration), "PORTAL_USER_ID": a["RESPONSIBLE_ID"],
                "PORTAL_NUMBER": "reg74951234567", "PHONE_NUMBER": _client_phone(owner_key),
                "CRM_ENTITY_TYPE": entity.get(a["OWNER_TYPE_ID"]) if a["OWNER_ID"] != "0" else None,
                "CRM_ENTITY_ID": a["OWNER_ID"] if a["OWNER_ID"] != "0" else None,
                "CRM_ACTIVITY_ID": a["ID"], "COST": "0.0000", "COST_CURRENCY": "RUR",
                "CALL_RECORD_URL": None,
            }))
            if inbound and crng.random() < 0.05:
                t = parse_ts(start) + timedelta(minutes=crng.randint(5, 90))
                if t <= datetime.combine(self.today, datetime.max.time().replace(microsecond=0), MSK):
                    calls.append((t.isoformat(), int(a["ID"]), {
                        "CALL_ID": f"externalCall.x{int(a['ID']):08x}", "CALL_TYPE": "2", "CALL_FAILED_CODE": "304",
                        "CALL_FAILED_REASON": "Missed call", "CALL_START_DATE": t.isoformat(), "CALL_DURATION": "0",
                        "PORTAL_USER_ID": a["RESPONSIBLE_ID"], "PORTAL_NUMBER": "reg74951234567",
                        "PHONE_NUMBER": _client_phone(f"stranger:{a['ID']}"), "CRM_ENTITY_TYPE": None,
                        "CRM_ENTITY_ID": None, "CRM_ACTIVITY_ID": None, "COST": "0.0000", "COST_CURRENCY": "RUR",
                        "CALL_RECORD_URL": None,
                    }))
        calls.sort(key=lambda c: (parse_ts(c[0]), c[1]))
        calls_out = [{"ID": str(n), **c} for n, (_, _, c) in enumerate(calls, start=1)]

        # tasks.task.list: one task per CRM task activity; lowerCamel keys as the real answer
        tasks_out: list[dict[str, Any]] = []
        owner_prefix = {"1": "L", "2": "D", "4": "CO"}
        for a in acts_out:
            if a["PROVIDER_ID"] != "CRM_TASKS_TASK":
                continue
            done = a["COMPLETED"] == "Y"
            tasks_out.append({
                "id": str(len(tasks_out) + 1), "title": a["SUBJECT"], "status": "5" if done else "2",
                "priority": "1", "responsibleId": a["RESPONSIBLE_ID"], "createdBy": a["RESPONSIBLE_ID"],
                "createdDate": a["CREATED"], "changedDate": a["LAST_UPDATED"],
                "closedDate": a["LAST_UPDATED"] if done else None, "deadline": a["DEADLINE"],
                "groupId": "0", "ufCrmTask": [f"{owner_prefix.get(a['OWNER_TYPE_ID'], 'CO')}_{a['OWNER_ID']}"]
                if a["OWNER_ID"] != "0" else [],
                "crmActivityId": a["ID"],
            })

        # crm.company.list: every company a kept deal or converted lead points at
        first: dict[int, tuple[int, str]] = {}
        touched: dict[int, int] = {}
        for r in self.deals:
            c = r["company"]
            owner = r["reassign"][0] if r["reassign"] else r["mgr"]
            if c not in first or r["create"] < first[c][0]:
                first[c] = (r["create"], str(owner))
            if r["won"] and r["close"] is not None:
                touched[c] = max(touched.get(c, 0), r["close"])
        for ld in leads_out:
            if ld["COMPANY_ID"] and int(ld["COMPANY_ID"]) not in first:
                first[int(ld["COMPANY_ID"])] = (self._sec(ld["DATE_CREATE"]), ld["ASSIGNED_BY_ID"])
        companies_out = []
        industries = ("IT", "MANUFACTURING", "DELIVERY", "ENTERTAINMENT", "GOVERNMENT", "OTHER")
        for c in sorted(first):
            created, owner = first[c]
            modify = max(created, touched.get(c, 0))
            companies_out.append({
                "ID": str(c), "TITLE": self.company_names[c], "COMPANY_TYPE": "CUSTOMER" if c in touched else "PROSPECT",
                "INDUSTRY": industries[c % len(industries)], "ASSIGNED_BY_ID": owner, "CREATED_BY_ID": owner,
                "DATE_CREATE": fmt(created), "DATE_MODIFY": fmt(modify), "OPENED": "Y",
            })
        return {"companies": companies_out, "stage_history_deals": stage_history_deals,
                "stage_history_leads": stage_history_leads, "calls": calls_out, "tasks": tasks_out}

    def _sec(self, ts: str) -> int:
        """A Bitrix24 timestamp written by this world back to its internal moment."""
        return int((parse_ts(ts) - datetime.combine(self.origin, datetime.min.time(), MSK)).total_seconds())


_HOURS = [h for h, _ in _HOUR_WEIGHTS]
_HOUR_CUM = list(accumulate(w for _, w in _HOUR_WEIGHTS))


def generate(size: Size = "M", today: date | None = None, seed: int = 42) -> World:
    """Build the demo company of `size` whose history ends on `today` (23:59:59 Moscow), from `seed`."""
    return _Gen(size, today or date.today(), seed).run()
