"""The personal-data rules the :class:`~edgesdk.data.redact.Redactor` applies, and their checks.

Each :class:`Rule` is a regular expression, an optional check that confirms a match (a
checksum: Luhn for cards, GB 11643 for Chinese ID numbers, ISO 13616 mod 97 for IBANs; a range
for coordinates and IP addresses) and the typed placeholder that replaces it. Checks are what
let order numbers, versions and timestamps through while the same digits in a card are caught.

Names and addresses have no checksum, so they are found by *context*: a cue before or after the
name (``my name is``, ``Mr.``, ``Dear``, ``text … that``, ``联系人：``, ``…先生``) and a name's
shape (capitalised words; a common Chinese surname and one or two characters). A bare name with
no cue is not found; that is the measured limit (``docs/data.md``), chosen over redacting every
capitalised word or every Chinese character pair. Speech-shaped data (an e-mail spelled out,
a mobile number in Chinese numerals) is covered because the glasses hear more than they read.

Rules run in order; later rules see earlier placeholders, and no rule matches a placeholder
(the uploader re-checks redacted text and would quarantine it otherwise).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

# --------------------------------------------------------------------------- checksums


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def cn_id_ok(number: str) -> bool:
    """GB 11643-1999 check digit of an 18-character resident ID number."""
    if len(number) != 18 or not number[:17].isdigit():
        return False
    total = sum(int(c) * w for c, w in zip(number[:17], _ID_WEIGHTS))
    return _ID_CHECK[total % 11] == number[17].upper()


def iban_ok(text: str) -> bool:
    """ISO 13616: move the first four characters to the end, letters to numbers, mod 97 == 1."""
    compact = re.sub(r"\s", "", text).upper()
    if not 15 <= len(compact) <= 34:
        return False
    digits = "".join(str(int(c, 36)) for c in compact[4:] + compact[:4])
    return int(digits) % 97 == 1


def _gps_ok(text: str) -> bool:
    numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", text)]
    return len(numbers) >= 2 and abs(numbers[0]) <= 90 and abs(numbers[1]) <= 180


def _ipv4_ok(text: str) -> bool:
    parts = text.split(".")
    return len(parts) == 4 and all(p.isdigit() and int(p) <= 255 and len(p) <= 3 for p in parts)


def _ipv6_ok(text: str) -> bool:
    hexdigits = sum(c in "0123456789abcdefABCDEF" for c in text)
    return hexdigits >= 2 and (text.count(":") >= 3 or "::" in text) and ":::" not in text


# --------------------------------------------------------------------------- rules


@dataclass(frozen=True)
class Rule:
    name: str
    pattern: re.Pattern[str]
    placeholder: str
    check: Callable[[str], bool] | None = None
    group: int = 0


_SEP = r"[ \-]?"
_PLACEHOLDER = re.compile(r"\[[A-Z]+\]")
"""What a rule leaves behind; redacting it again must find nothing (the uploader re-checks)."""
_NOT_DIGIT_BEFORE = r"(?<![0-9A-Za-z])"
_NOT_DIGIT_AFTER = r"(?![0-9])"

_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_STREET = (r"(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Parkway|Pkwy|Way|"
           r"Court|Ct|Place|Pl|Square|Sq|Terrace|Strasse|Straße|Rue)")

# --------------------------------------------------------------------------- names

_NAME_EN_WORD = r"(?:[A-ZÀ-Þ][a-zß-ÿ]*['\-][A-ZÀ-Þ][a-zß-ÿ]+|[A-ZÀ-Þ][a-zß-ÿ]+)"
_NOT_A_NAME = (r"(?!(?:Sir|Madam|Customer|Customers|Team|All|Everyone|Friend|Friends|Mom|Mum|"
               r"Dad|Siri|Alexa|Google|Cortana|Assistant|There|The|A|An|My|Your|Our|Their|"
               r"This|That|It|I|Me|Him|Her|Them|Us|You|Today|Tomorrow|Monday|Tuesday|"
               r"Wednesday|Thursday|Friday|Saturday|Sunday|Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Senior|Junior|Chief|"
               r"Lead|Head|Principal|Managing|Sales|Account|Regional|Product|Project|Marketing|"
               r"Technical|General|Vice)\b)")
NAME_EN = rf"{_NOT_A_NAME}{_NAME_EN_WORD}(?:[ \t]+{_NAME_EN_WORD}){{0,2}}"
"""One to three capitalised words (O'Neill, Jean-Luc, Müller), not a pronoun or a title."""

_SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡"
             "余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷"
             "侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔汤常温康施牛樊葛邢齐易乔伍庞颜倪庄聂章"
             "鲁岳翟殷詹申欧耿兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂苗谷盛曲翁冉骆"
             "蓝游辛靳柴鲍华喻祁蒲滕屈饶牟艾尤穆卓吉缪简项芦麦褚娄窦戚岑景党宫费卜冷晏席卫"
             "米柏宗瞿桂佟臧闵苟邬卞姬栾隋刁沙荣巫寇桑郎甄丛仲虞敖巩佘池邝")
"""About 200 common single-character surnames (most of the population), without characters
that are far more often ordinary words after a cue (和, 时, 向, 全, 于, 车, 明 …)."""
_COMPOUND = "欧阳|司马|上官|诸葛|东方|皇甫|令狐|慕容|尉迟|公孙|夏侯|司徒|端木|长孙|宇文"
_CJK = r"\u4e00-\u9fff"
NAME_ZH = rf"(?:{_COMPOUND}|[{_SURNAMES}])[{_CJK}]{{1,2}}"
_ZH_END = r"(?=[\s，。,.!！?？、;；:：（()）|0-9A-Za-z]|$)"

_EN_CUES = (
    r"(?i:\bmy\s+name\s+is|\bmy\s+name's|\bcall\s+me|\bi\s+am\s+called|\bname\s*[:：]|"
    r"\bfull\s+name\s*[:：]|\b(?:patient|contact|customer|client|recipient|sender|attn|"
    r"attention|passenger|guest|driver|employee|applicant|ship\s+to|deliver\s+to|bill\s+to|"
    r"to|from|cc)\s*[:：]|\b(?:text|message|call|phone|ring|e-?mail|tell|remind|ask|ping|contact|"
    r"invite|meet(?:\s+with)?|forward\s+(?:this|it)\s+to|send\s+(?:this|it|a\s+message|"
    r"a\s+text|an\s+e-?mail)\s+to|reply\s+to)|\b(?:my\s+)?(?:colleague|friend|boss|manager|"
    r"wife|husband|partner|son|daughter|brother|sister|mother|father|aunt|uncle|cousin|"
    r"neighbou?r|grand(?:ma|pa|mother|father)|dentist|teacher|co-?worker|room-?mate|"
    r"girlfriend|boyfriend)|\b(?:signed|sincerely|regards|cheers)[,:]?|"
    r"\b(?:best|thanks|love|yours)[,:]?(?=[ \t]*\n)|\b(?:under\s+)?the\s+name(?:\s+of)?|"
    r"\bname\s+on\s+(?:the\s+)?(?:account|card))"
    r"|\b(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof)\.?|\bDear|\b(?:Hi|Hello)(?=\s+\S+\s*,)"
    r"|联系|告诉|转告|通知|给|英文名(?:是|叫)|名字(?:是|叫)|我叫"
    r"|(?:收款|收件|收货|联系|负责|签收|乘车|寄件)人\s*[:：]?")
_INTRO_EN = r"(?i:\bthis\s+is|\bi'm|\bi\s+am)\s+"
_ZH_LABEL = ("(?:姓名|联系人|收件人|收货人|收款人|负责人|经办人|申请人|患者|病人|乘客|乘车人|客户|"
             "寄件人|签收人|户名|持卡人|开户名|车主|房主|业主)\\s*[:：]?\\s*")
_ZH_INTRO = "(?:我叫|我是|我的名字是|我的名字叫|本人)"
_ZH_VERB = "(?:转告|告诉|通知|提醒|联系|打给|发给|致电|给|找|问)"
_ZH_TITLE = "(?:先生|女士|小姐|老师|经理|医生|律师|教授|主任|同学|师傅|阿姨|叔叔|总监|工程师|主管)"
_JOB_TITLE = (r"(?:(?:(?:Senior|Junior|Chief|Lead|Head|Principal|Managing|Sales|Account|Regional|"
              r"Product|Project|Marketing|Technical|General|Vice)\s+)*(?:Partner|Analyst|Manager|"
              r"Director|Engineer|Consultant|Officer|President|Designer|Developer|Architect|"
              r"Associate|Specialist|Coordinator|Representative|Attorney|Accountant|Nurse|"
              r"Professor|CEO|CTO|CFO|COO|VP)\b|销售|总监|经理|工程师|主管|顾问|总裁|董事)")
"""What follows a name on a business card or a badge (the camera reads those)."""

NAME_RULES: tuple[Rule, ...] = (
    Rule("name_en", re.compile(rf"(?:{_EN_CUES})[ \t]*\n?[ \t]*({NAME_EN})"), "[NAME]", group=1),
    Rule("name_en", re.compile(rf"{_INTRO_EN}({NAME_EN})(?=\s+(?:from|at|with|of|here)\b)"),
         "[NAME]", group=1),
    Rule("name_en", re.compile(rf"(?<![A-Za-z])({NAME_EN})[ \t]*[|,，·•\-–—]?[ \t]*{_JOB_TITLE}"),
         "[NAME]", group=1),
    Rule("name_zh", re.compile(rf"(?:{_ZH_LABEL}|{_ZH_INTRO})({NAME_ZH}){_ZH_END}"), "[NAME]",
         group=1),
    Rule("name_zh", re.compile(
        rf"{_ZH_VERB}({NAME_ZH})(?=打电话|打个电话|发|回|说|明天|今天|上午|下午|晚上|一下|"
        r"[\s，。,.!！、]|$)"), "[NAME]", group=1),
    Rule("name_zh", re.compile(rf"(?:(?<=[A-Za-z] )|(?<=[(（]))({NAME_ZH})(?![{_CJK}])"),
         "[NAME]", group=1),
    Rule("name_zh", re.compile(rf"((?:{_COMPOUND}|[{_SURNAMES}])[{_CJK}]{{0,2}}?){_ZH_TITLE}"),
         "[NAME]", group=1),
    Rule("name_zh", re.compile(  # a form or a parcel label: 王丽 女 …, 黄志强 138…
        rf"(?:^|(?<=[\s:：]))({NAME_ZH})[ \t\u3000]+(?=[男女](?![{_CJK}])|\+?\d[\d \-]{{6,}})"),
        "[NAME]", group=1),
)


_CN_DIGITS = "一二三四五六七八九零〇"
_IBAN_COUNTRIES = frozenset({
    "AD", "AE", "AL", "AT", "AZ", "BA", "BE", "BG", "BH", "BR", "BY", "CH", "CR", "CY",
    "CZ", "DE", "DK", "DO", "EE", "EG", "ES", "FI", "FO", "FR", "GB", "GE", "GI", "GL",
    "GR", "GT", "HR", "HU", "IE", "IL", "IQ", "IS", "IT", "JO", "KW", "KZ", "LB", "LC",
    "LI", "LT", "LU", "LV", "LY", "MC", "MD", "ME", "MK", "MR", "MT", "MU", "NL", "NO",
    "PK", "PL", "PS", "PT", "QA", "RO", "RS", "SA", "SC", "SE", "SI", "SK", "SM", "ST",
    "SV", "TL", "TN", "TR", "UA", "VA", "VG", "XK"})


def _iban_checked(text: str) -> bool:
    return text[:2].upper() in _IBAN_COUNTRIES and iban_ok(text)


def _coordinate_ok(text: str) -> bool:
    return abs(float(text)) <= 180


def _has_hex_letter(text: str) -> bool:
    return re.search(r"[A-Fa-f]", text) is not None


RULES: tuple[Rule, ...] = (
    Rule("private_key", re.compile(
        r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)"),
        "[KEY]"),
    Rule("bearer", re.compile(r"(?i)\bbearer\s+[A-Za-z0-9\-._~+/]{8,}=*"), "Bearer [TOKEN]"),
    Rule("jwt", re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}"),
         "[TOKEN]"),
    Rule("api_key", re.compile(
        r"(?<![A-Za-z0-9])(?:sk-(?:proj-|ant-)?[A-Za-z0-9_\-]{16,}|AKIA[0-9A-Z]{16}"
        r"|gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,}|AIza[0-9A-Za-z_\-]{30,}"
        r"|xox[abposr]-[A-Za-z0-9\-]{10,}|glpat-[A-Za-z0-9_\-]{20,}|[sr]k_(?:live|test)_"
        r"[A-Za-z0-9]{16,}|hf_[A-Za-z0-9]{30,}|LTAI[A-Za-z0-9]{12,30})"), "[KEY]"),
    Rule("url_password", re.compile(r"(?i)\b[a-z][a-z0-9+.\-]*://[^\s:/@]+:([^\s@/]+)@"),
         "[SECRET]", group=1, check=lambda s: _PLACEHOLDER.fullmatch(s) is None),
    Rule("secret_assignment", re.compile(
        r"(?i)(?:(?<![A-Za-z])[a-z_\-]*(?:api[_\- ]?key|access[_\- ]?key|access[_\- ]?token|"
        r"secret(?:[_\- ]?key)?|password|passwd|pwd|token)|密码|密钥|令牌|口令)"
        r"\s*(?:[:=：]|is|是|为)\s*[\"']?([^\s\"',，。;；]{6,})"),
        "[SECRET]", group=1, check=lambda s: _PLACEHOLDER.fullmatch(s) is None),
    Rule("iban", re.compile(
        r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?"
        r"(?![A-Za-z0-9])"), "[IBAN]", check=_iban_checked),
    Rule("iban", re.compile(  # typed in lower case
        r"(?<![A-Za-z0-9])[a-z]{2}\d{2}(?: ?[a-z0-9]{4}){2,7}(?: ?[a-z0-9]{1,4})?"
        r"(?![A-Za-z0-9])"), "[IBAN]", check=_iban_checked),
    Rule("mac", re.compile(r"(?<![0-9A-Fa-f:\-])(?:[0-9A-Fa-f]{2}([:\-]))(?:[0-9A-Fa-f]{2}\1){4}"
                           r"[0-9A-Fa-f]{2}(?![0-9A-Fa-f:\-])"), "[MAC]"),
    Rule("mac", re.compile(r"(?<![0-9A-Fa-f.])[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}"
                           r"(?![0-9A-Fa-f.])"), "[MAC]", check=_has_hex_letter),
    Rule("gps", re.compile(
        r"(?<![0-9.])-?\d{1,2}\.\d{4,}°?(?:\s*[NS])?\s*[,，/ ]\s*-?\d{1,3}\.\d{4,}°?"
        r"(?:\s*[EW](?![A-Za-z]))?(?![0-9])"), "[LOCATION]", check=_gps_ok),
    Rule("gps", re.compile(r"(?<![A-Za-z])[NS]\s?\d{1,2}\.\d{3,}°?\s*[,，/ ]?\s*[EW]\s?\d{1,3}"
                           r"\.\d{3,}°?(?![0-9])"), "[LOCATION]"),
    Rule("gps", re.compile(r"(?<![0-9])\d{1,3}\s?°\s?\d{1,2}\s?['′]\s?\d{1,2}(?:\.\d+)?\s?"
                           r"(?:[\"″]|'')?\s?[NSEW](?![A-Za-z])"), "[LOCATION]"),
    Rule("gps", re.compile(r"(?i)(?<![A-Za-z])(?:lat|latitude|lon|lng|long|longitude|纬度|经度|"
                           r"北纬|南纬|东经|西经)"
                           r"[\"']?\s*[:=：]?\s*(-?\d{1,3}\.\d{3,})(?![0-9])"), "[LOCATION]",
         group=1, check=_coordinate_ok),
    Rule("cn_plate", re.compile(
        rf"[{_PROVINCES}][A-HJ-NP-Z][·• \-]?[A-HJ-NP-Z0-9]{{4}}[A-HJ-NP-Z0-9挂学警港澳]{{1,2}}"
        r"(?![A-Za-z0-9])"), "[PLATE]"),
    Rule("street_address", re.compile(
        rf"\b\d{{1,5}}(?:[A-Za-z])?\s+(?:(?:[A-Z][a-zäöüß]+|[NSEW])\.?\s+){{1,4}}{_STREET}\b\.?"
        r"|(?i:\bP\.?\s?O\.?\s+Box)\s+\d{1,6}"
        r"|[\u4e00-\u9fff]{2,12}(?:路|街|大道|巷|胡同|弄)(?:[一二三四五六七八九十\d]{1,3}段)?"
        r"\d{1,5}(?:号|弄)(?:院)?(?:\d{1,4}(?:室|号楼))?"), "[ADDRESS]"),
    *NAME_RULES,
    Rule("email", re.compile(
        r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.\-\u4e00-\u9fff]+@[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?"
        r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?)+"), "[EMAIL]"),
    Rule("email", re.compile(  # spoken: "tom dot harris at example dot com"
        r"(?i)\b[a-z0-9]+(?:\s+(?:dot|underscore|dash)\s+[a-z0-9]+)*\s+at\s+[a-z0-9][a-z0-9\-]*"
        r"(?:\s+dot\s+[a-z]{2,6})+\b"), "[EMAIL]"),
    Rule("cn_id", re.compile(
        _NOT_DIGIT_BEFORE + r"[1-9]\d{5} ?(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])"
        r" ?\d{3}[0-9Xx]" + r"(?![0-9A-Za-z])"), "[ID]",
        check=lambda s: cn_id_ok(s.replace(" ", ""))),
    Rule("cn_mobile", re.compile(
        r"(?<![0-9A-Za-z+])(?:(?:\+|00)?86[ \-]?)?1[3-9]\d[ \-]?\d{4}[ \-]?\d{4}"
        + _NOT_DIGIT_AFTER), "[PHONE]"),
    Rule("cn_mobile", re.compile(  # spoken: 一三八零零一三八零零零
        rf"(?<![{_CN_DIGITS}])一[三四五六七八九][{_CN_DIGITS}]{{9}}(?![{_CN_DIGITS}])"), "[PHONE]"),
    Rule("phone_intl", re.compile(
        r"(?<![0-9A-Za-z])(?:\+|00)[1-9]\d{0,2}[ \-.]?(?:\(\d{1,4}\)[ \-.]?)?"
        r"\d{1,4}(?:[ \-.]?\d{2,4}){1,4}" + _NOT_DIGIT_AFTER), "[PHONE]"),
    Rule("card", re.compile(
        r"(?<![0-9A-Za-z+])\d(?:" + _SEP + r"\d){12,18}" + _NOT_DIGIT_AFTER), "[CARD]",
        check=lambda s: luhn_ok(re.sub(r"\D", "", s))),
    Rule("ipv4", re.compile(r"(?<![0-9.])(?:\d{1,3}\.){3}\d{1,3}(?![0-9]|\.\d)"), "[IP]",
         check=_ipv4_ok),
    Rule("ipv6", re.compile(
        r"(?<![0-9A-Fa-f:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![0-9A-Fa-f:])"),
        "[IP]", check=_ipv6_ok),
    Rule("phone_national", re.compile(  # not one group of a longer run (an order number)
        r"(?<![0-9A-Za-z])(?<![0-9][ \-.])"
        r"(?:(?:1[ \-.])?(?:\(\d{2,4}\)[ \-.]?|\d{2,4}[ \-.])\d{3,4}[ \-.]\d{4}"
        r"|0\d{2,4}[ \-]\d{6,8})(?![0-9]|[ \-.]\d)"), "[PHONE]"),
    Rule("phone_digits", re.compile(_NOT_DIGIT_BEFORE + r"0\d{9,11}" + _NOT_DIGIT_AFTER),
         "[PHONE]"),
    Rule("phone_digits", re.compile(  # a bare number after a word that says it is a phone's
        r"(?i)(?:phone|tel|mobile|cell|call|text|whatsapp|fax|电话|手机|号码)[^\d\n]{0,20}?"
        r"(?<![0-9A-Za-z])(\d{10,11}|\d{3}-\d{4})(?![0-9])"), "[PHONE]", group=1),
    Rule("phone_digits", re.compile(  # … or before one
        r"(?<![0-9A-Za-z])(\d{10,11})(?![0-9])"
        r"(?=[^\d\n]{0,20}(?i:phone|number|mobile|cell|电话|手机|号码))"), "[PHONE]"),
)
