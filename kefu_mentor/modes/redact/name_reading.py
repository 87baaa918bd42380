"""How a would-be person's name is read: surnames, cue words and titles, jieba's tagger and
dictionary, and the checks built on them (is this a given name, a brand, an ordinary word?).
The finders in `names` put these together."""

from __future__ import annotations

import re
from functools import lru_cache

from ._common import _QUANTITY
from .library import _place_at

# -- names ------------------------------------------------------------------------------------
_COMPOUND = (
    "欧阳 司马 上官 诸葛 东方 皇甫 尉迟 公孙 慕容 长孙 宇文 司徒 司空 夏侯 令狐 轩辕 端木 独孤 南宫 西门 呼延 钟离 "
    "百里 东郭 澹台 公冶 宗政 濮阳 淳于 单于 太叔 申屠 闻人 赫连 万俟 左丘 梁丘 拓跋 第五 鲜于 闾丘 亓官 司寇 巫马 "
    "公西 漆雕 乐正 壤驷 公良 夹谷 宰父 谷梁 段干 微生 羊舌 东门 南门 商牟 伯赏 仲孙 颛孙 公羊 子车"
).split()
_COMPOUND_RE = re.compile("|".join(_COMPOUND))
_COMPOUND_WORDS = frozenset("东方 百里 第五 司空 东门 西门 南门 南宫 微生 东郭 单于 长孙 公孙 宰父 夹谷 谷梁 段干 乐正".split())
# 百家姓 and today's most common surnames, with those jionlp's name checker adds (鄢, 涂, 晋 …).
_SINGLE = set(
    "赵钱孙李周吴郑王冯陈褚卫蒋沈韩杨朱秦尤许何吕施张孔曹严华金魏陶姜戚谢邹喻柏水窦章云苏潘葛奚范彭郎鲁韦昌马苗凤花方"
    "俞任袁柳酆鲍史唐费廉岑薛雷贺倪汤滕殷罗毕郝邬安常乐于时傅皮卞齐康伍余元卜顾孟平黄和穆萧尹姚邵湛汪祁毛禹狄米贝明臧计"
    "伏成戴谈宋茅庞熊纪舒屈项祝董梁杜阮蓝闵席季麻强贾路娄危江童颜郭梅盛林刁钟徐邱骆高夏蔡田樊胡凌霍虞万支柯昝管卢莫经房"
    "裘缪干解应宗丁宣贲邓郁单杭洪包诸左石崔吉钮龚程嵇邢滑裴陆荣翁荀羊於惠甄曲家封芮羿储靳汲邴糜松井段富巫乌焦巴弓牧隗山"
    "谷车侯宓蓬全郗班仰秋仲伊宫宁仇栾暴甘钭厉戎祖武符刘景詹束龙叶幸司韶郜黎蓟薄印宿白怀蒲邰从鄂索咸籍赖卓蔺屠蒙池乔阴郁"
    "胥能苍双闻莘党翟谭贡劳逄姬申扶堵冉宰郦雍却璩桑桂濮牛寿通边扈燕冀郏浦尚农温别庄晏柴瞿阎充慕连茹习宦艾鱼容向古易慎戈"
    "廖庾终暨居衡步都耿满弘匡国文寇广禄阙东欧殳沃利蔚越夔隆师巩厍聂晁勾敖融冷訾辛阚那简饶空曾毋沙乜养鞠须丰巢关蒯相查后"
    "荆红游竺权逯盖益桓公闫覃佘付代麦佟岳帅缑亢况有琴商牟佴赏墨哈谯笪年爱阳言福仝栗练揭母檀隋朴"
    "仉晋楚汝涂郤鄢钦"
)
# Cues after which a surname starts a person's name.
_CUE_WORDS = (
    r"我叫|他叫|她叫|名字叫|名字是|叫做|姓名|收件人|收货人|联系人|寄件人|取件人|户名|持卡人|开户名|买家|客户|顾客|会员|"
    r"客人|户主|转给|交给|通知买家|通知|找一下你们|找一下|找|帮|是我姐|是我哥|是我妹|是我弟|写的是|应该是|回访|签收人|业主|老公|老婆|我妈|我爸|"
    r"我姐|我哥|我妹|我弟|表哥|表姐|表弟|表妹|堂哥|堂姐|舅舅|姑姑|婆婆|岳母|外婆|奶奶|爷爷|姥姥|媳妇|对象|男朋友|女朋友|"
    r"室友|邻居|领导|同事|朋友|代收人|本人|实名人|我是|我就是|反馈人|名字|下单人|支付人|付款人|订购人|申请人|经办人|报名人|投保人|"
    r"被保人|车主|家长|学生|署名|落款|签名|来电|自称|转告|交接给|抬头|女儿|儿子|闺女|收款人|提货人|领取人|登记人|"
    # a name given as a field of its own, and whoever does a job (快递员, 打包员, 售后专员, 原客服)
    r"实名|真名|英文名|中文名|[\u4e00-\u9fa5]{1,3}员|客服|"
    # a department (物流部, 财务部) or a shift (白班, 晚班) in a handover note
    r"[\u4e00-\u9fa5]{1,3}部|[早中晚白夜]班"
)
_NAME_CUE = re.compile(rf"(?=({_CUE_WORDS}))")
_CUE_END = re.compile(rf"(?:{_CUE_WORDS})\s*(?:[:：]|是|叫)?\s*$")
# Cues that name a person's field outright: what follows is a name even without a Han surname.
_PERSON_FIELDS = frozenset(
    "收件人 收货人 联系人 寄件人 取件人 签收人 代收人 户名 户主 开户名 持卡人 姓名 来电 自称 收款人 提货人 领取人 登记人 "
    "下单人 支付人 付款人 订购人 申请人 经办人 报名人 投保人 被保人 实名人 名字 名字叫 名字是 我叫 他叫 她叫 叫做 "
    "实名 真名 英文名 中文名".split()
)
# Cues overlap ("收件人是我姐 苗晓丽"): each is tried, then what may sit between it and the name.
_CUE_GAP = re.compile(r"\s*(?:一下)?\s*(?:[:：]|是|叫|写的是|写的|写成|写错成|写|填的是|填的|填|为|改成|换成)?\s*")
_GAP_VERB = re.compile(r"(?:是|叫|写|填|为|改成|换成)$")  # two characters at most: search the last two only
_TITLE = re.compile(r"(?:先生|女士|小姐|经理|老师)")
_NOT_GIVEN = set(
    "的了是在和与跟说要想把被给让叫也都就还又吗呢吧啊呀哦嘛么电手号码改退换发收寄买卖客等已来去我你他她它您咱不没个位们这那哪谁"
)


@lru_cache(maxsize=1)
def _posseg():
    import jieba
    import jieba.posseg

    jieba.setLogLevel(60)
    return jieba.posseg


@lru_cache(maxsize=8192)
def _tag(window: str) -> tuple[tuple[str, str], ...]:
    """jieba's words and part-of-speech tags for a short window of text (windows repeat: a name
    is looked at from several cues, and a chat repeats its phrases)."""
    return tuple((t.word, t.flag) for t in _posseg().lcut(window))


@lru_cache(maxsize=1)
def _name_initials() -> frozenset[str]:
    """Characters that begin a person's name in jieba's HMM tagger (its emission table for the
    first character of an nr word): a surname list learnt from text, longer than ours."""
    from jieba.posseg import prob_emit

    return frozenset(c for c, logp in prob_emit.P[("B", "nr")].items() if logp > -12.5)


def _name_initial(char: str) -> int:
    return 1 if char in _name_initials() else 0


def _known() -> dict[str, str]:
    """jieba's dictionary, word → tag."""
    return _posseg().dt.word_tag_tab


def _surname_at(text: str, i: int) -> int:
    if text[i : i + 2] in _COMPOUND:
        return 2
    return 1 if i < len(text) and text[i] in _SINGLE else 0


_GIVEN_FLAGS = ("nr", "z", "g")  # jieba's person-name tags, and the tags it gives unknown name characters
# Tags of a word that cannot be a given name after a surname (能 + 咋办/v, 有 + 啥/r …).
_NOT_GIVEN_TAGS = ("v", "r", "d", "u", "y", "p", "c", "f", "q", "t", "e", "o", "x", "m")


def _cjk(word: str) -> bool:
    return bool(word) and all("\u4e00" <= c <= "\u9fa5" for c in word)


def _name_at(text: str, i: int) -> int:
    """Length of a person's name starting at i, or 0.

    A known surname first; then jieba's part-of-speech tagger decides whether what follows is a
    given name (买家付志远 → 付 + 志远/nrfg) or an ordinary word (买家付完款 → 付完/v; 客户关系 →
    关系/n), and where the name ends (刘婷婷反馈 → 刘 + 婷婷).
    """
    sur = _surname_at(text, i)
    if not sur:
        return 0
    title = _TITLE.match(text, i + sur)
    if title:  # 王先生, 刘经理: the surname and its title
        return title.end() - i
    if i + sur >= len(text) or not _cjk(text[i + sur]) or text[i + sur] in _NOT_GIVEN:
        return 0
    if sur == 1 and text[i + 1] == text[i]:  # 白白, 明明: a word, not a surname twice
        return 0
    # Set apart by a space, a punctuation mark or a digit ("户名 隋海洋 …", "买家 鲍天佑 要求"): a name
    # unless the whole is an ordinary dictionary word ("客户 满意 …") or jieba reads one in it
    # (买家付款后，→ 付款/v).
    tags = _posseg().dt.word_tag_tab
    for size in (sur + 2, sur + 1):
        end = i + size
        given = text[i + sur : end]
        if (
            _cjk(text[i:end])
            and len(text[i:end]) == size
            and (end == len(text) or not _cjk(text[end]))
            and not any(c in _NOT_GIVEN for c in given)
        ):
            tag = tags.get(text[i:end])
            if tag is None:
                return size if _jieba_agrees(text[i:end], sur) else 0
            return size if tag.startswith("nr") else 0
    tokens = _tag(text[i : i + 9])
    (w0, f0), rest = tokens[0], tokens[1:]
    w1, f1 = rest[0] if rest else ("", "")
    if len(w0) > sur:  # jieba read the surname as the start of a longer word
        if not f0.startswith("nr") or len(w0) > sur + 2:
            return 0
        size = len(w0)
        if size == sur + 1 and _third_character(w1, f1):
            size += 1
        return size
    if len(w0) < sur:
        return 0
    # The surname stands alone after a cue: the next word is the given name unless it is a verb,
    # a pronoun, an adverb … (客户程浩然要求 → 程 + 浩然/a; 买家付完款 → 付 + 完钱/v).
    if sur == 2 and _cjk(w1) and 1 <= len(w1) <= 2:  # 诸葛 + 明远
        return sur + len(w1)
    if _cjk(w1) and 1 <= len(w1) <= 2 and w1[0] not in _NOT_GIVEN and _surname_then_given(f0, w1, f1):
        if f1.startswith(_GIVEN_FLAGS) or not f1.startswith(_NOT_GIVEN_TAGS):
            return sur + len(w1)
    return 0


def _third_character(word: str, flag: str) -> bool:
    """Whether the word jieba puts after a two-character name token begins with the name's third
    character: a name character it tags on its own (温雅 + 琪/nr), or a pair its HMM made up that no
    dictionary knows (谢雨 + 萱是, where 是 begins the sentence's verb)."""
    if not word or not _cjk(word[0]) or word[0] in _NOT_GIVEN:
        return False
    if len(word) == 1:
        return flag.startswith(_GIVEN_FLAGS)
    return len(word) == 2 and word not in _known() and word[1] in _NOT_GIVEN


_FIELD_NOT_NAME = ("v", "r", "u", "y", "p", "c", "f", "q", "m", "t")  # 高远/d may be a name, 电话/n has 电


def _field_name_at(text: str, i: int) -> int:
    """After a cue that names a person's field (收件人, 户名, 联系人 …): a surname and one or two
    characters up to a break are a name even when they also make a word (联系人高远, 户名 金鑫);
    so are the words up to the next break that read as a name without a Han surname (吉克阿依,
    阿依达娜, 海来拉布)."""
    size = 0
    sur = _surname_at(text, i)
    for n in (sur + 2, sur + 1) if sur else ():
        end = i + n
        if end <= len(text) and (end == len(text) or not _cjk(text[end])) and _cjk(text[i:end]):
            tag = _known().get(text[i:end], "nr")
            # Set apart right after the field's name, a verb or a time word is a name too (联系人 付强,
            # 收件人 夏天): a field holds a name, and what is not one carries a particle (填错了).
            # So is a word after 写/填/是 (寄件人写夏天): the field's own verb sets it apart.
            # So is one closed by a punctuation mark (寄件人周到，…) and a number word (收件人：万里).
            opened = i > 0 and (not _cjk(text[i - 1]) or bool(_GAP_VERB.search(text, max(0, i - 2), i)))
            closed = end == len(text) or text[end] in "，,。；;"
            apart = (opened or closed) and tag.startswith(("v", "t", "m"))
            if not any(c in _NOT_GIVEN for c in text[i + sur : end]) and (apart or not tag.startswith(_FIELD_NOT_NAME)):
                size = n
                break
    run = re.match(r"[\u4e00-\u9fa5]{2,7}(?=$|[\s，,。；;（(0-9])", text[i:])
    if run and len(run.group()) > size and (_foreign_name(run.group()) or _unknown_word(run.group())):
        size = len(run.group())  # 玉罕: two characters are enough right after the field's name
    return size


def _name_tokens(text: str, i: int) -> int:
    """Length of a run of jieba's person-name tokens starting at i, four characters or more: a
    transliterated name written without its dot (买家艾克拜尔吐尔洪反馈 → 艾克/nr 拜尔/nrt 吐尔洪/nr)."""
    known, size = _known(), 0
    if text[i : i + 2] in known and not known[text[i : i + 2]].startswith("nr"):
        return 0  # an ordinary word (要求, 反馈): jieba reads it so too
    if not re.match(r"[\u4e00-\u9fa5]{4}", text[i : i + 4]):
        return 0
    for word, flag in _tag(text[i : i + 9]):
        if not flag.startswith("nr") or not _cjk(word):
            break
        size += len(word)
    return size if 4 <= size <= 8 else 0


# Common elements of Tibetan and Mongolian given names, which carry no Han surname and which jieba's
# tagger reads as places (扎西/ns): two of them together are a name (德吉央宗, 巴特尔其其格).
_MINORITY = frozenset(
    "扎西 次仁 卓玛 格桑 达瓦 拉巴 顿珠 央金 德吉 普布 尼玛 巴桑 旺堆 多吉 平措 边巴 索朗 益西 丹增 白玛 洛桑 措姆 央宗 曲珍 "
    "次旦 仁增 强巴 贡布 桑珠 旦增 美朵 梅朵 拉姆 卓嘎 琼达 才让 才旦 多杰 仁青 公保 巴特尔 其其格 乌兰 哈斯 朝鲁 图雅 萨仁 斯琴 苏和 额尔敦 "
    "宝音 那仁 阿拉坦 孟和 满都拉 格日勒 乌力吉 青格勒 敖日格勒 巴雅尔 吉日嘎拉 娜仁 高娃 塔娜 托娅 阿古拉 特木尔 "
    # more Tibetan and Mongolian ones (泽仁拉姆, 乌云其木格)
    "泽仁 拉毛 拉毛措 索南 吉毛 嘉措 乌云 其木格 萨日朗 图门 巴图 苏日娜 那日苏 宝力道 额尔德尼 阿木古楞 格根 敖敦 乌日娜 呼和 "
    # Uyghur and Kazakh (阿依古丽, 古丽娜尔, 迪丽努尔, 阿不都热依木)
    "古丽 娜尔 迪丽 努尔 祖丽 菲娅 阿依 阿不都 热依木 买买提 艾力 艾买提 热依拉 帕丽 米娜 阿迪力 吐尔逊 阿卜杜 热合曼 艾尔肯 "
    "肉孜 依明 努尔兰 "
    # Yi (Nuosu) clan names and given-name elements (阿牛木呷, 沙马拉则, 曲比阿果, 吉克曲布)
    "阿牛 木呷 马海 阿西 阿苏 拉则 沙马 拉且 曲比 阿果 吉克 曲布 阿说 海来 拉布 吉伍 俄狄 勒格 瓦扎 伍各 阿呷 阿支 曲木 日火 "
    "沙玛 阿约 尔古 依合 木果 阿卓 克惹".split()
)
_PARTICLES = set(
    "的了吗呢吧啦呀哦嘛么好亲嗯噢喔哟诶则为及或并而且向将对于该此是在和与跟说要想把被给让也都就还又已等我你您他她它们"
)


def _unknown_word(word: str) -> bool:
    """No particle, and at most half of it made of dictionary words (海来拉布 → 拉布)."""
    if any(c in _PARTICLES for c in word):
        return False
    known = _posseg().dt.word_tag_tab
    if word in known and not known[word].startswith("nr"):
        return False
    pieces = _posseg().dt.tokenizer.lcut(word, HMM=False)
    # A lone preposition, pronoun, adverb or conjunction makes it a phrase (去哪办, 用新号加我), so
    # do a numeral (平台小二) and two one-character verbs (订单 + 催 + 付).
    if any(len(p) == 1 and known.get(p, "x").startswith(("p", "r", "d", "c", "m")) for p in pieces):
        return False
    if sum(len(p) == 1 and known.get(p, "x").startswith("v") for p in pieces) >= 2:
        return False
    return sum(len(p) for p in pieces if len(p) > 1) * 2 <= len(word) and len(pieces) > 1


_MINORITY_RUN = re.compile("(?:" + "|".join(sorted(_MINORITY, key=len, reverse=True)) + "){2,4}")


def _reads_as_name(word: str, sur: int) -> bool:
    """jieba's tagger on the word alone: one person-name token (郑可欣/nr), or the surname and one
    more word that is not a verb, pronoun, adverb … (蒋 + 欣怡, 隋 + 海洋), or a two-character
    name token and one more character (谢雨/nr + 萱)."""
    if sur == 1 and word[1] == word[0]:  # 谢谢, not a surname twice
        return False
    tokens = _tag(word)
    if len(tokens) == 1:
        return tokens[0][1].startswith("nr")
    if len(tokens) != 2:
        return False
    (w0, f0), (w1, f1) = tokens
    if len(w0) == sur:
        return (not f1.startswith(_NOT_GIVEN_TAGS) or f1.startswith("nr")) and _surname_then_given(f0, w1, f1)
    return f0.startswith("nr") and len(w0) == sur + 1 and len(w1) == 1


# -- names told by their neighbours ------------------------------------------------------------
# What may stand right before a name that is not a cue: the start, a break, a digit, a bracket.
_BREAK_BEFORE = set(" \t\n，,。；;！!？?、:：()（）【】[]“”\"'/／|～~…0123456789")
# Words for people that may follow a name: titles, kinship, roles (秦雨萱同学, 冯淑芬阿姨, 石磊哥).
_TITLES = (
    "先生|女士|小姐|经理|老师|师傅|同学|阿姨|叔叔|大哥|大姐|姐姐|哥哥|妹妹|弟弟|大爷|大妈|奶奶|爷爷|"
    "家长|医生|律师|主任|老板|总(?=$|[^\u4e00-\u9fa5]|[说让要的在那这您你好])|哥|姐"
)
_TITLE_AFTER = re.compile(rf"(?:{_TITLES})(?!们)")


# What a person does right after being named: 韩立新来电, 阿牛木呷让我问, 乔一帆说, 苏和收.
_PERSON_VERB = re.compile(
    r"(?:来电|来问|反馈|反映|说|让|叫我|要求|投诉|申请|咨询|称|确认|同意|签收|代收|收(?=$|[\s，,。；;！!])|"
    r"是我|下的|买的|订的|拍的|付的|留言|打电话|打来|接电话|回电话|回电|来取|来拿|负责|处理|在吗|已确认|跟进|接手|经手|"
    # a contact detail named right after its owner: 汪海波座机 0571…, 刘洋手机 139…
    r"(?:的)?(?:座机|电话|手机|微信|邮箱|地址)(?=\s?(?:号码?)?[:：是]?\s?[0-9A-Za-z(（+]))"
)


# Things that belong to a person in a shop's chat: after "X的" they keep X a person (张敏的快递);
# anything else after "X的" makes X a brand (杨国福的麻辣烫, 钟薛高的雪糕).
_PERSONAL = re.compile(
    r"(?:快递|包裹|订单|单子|单|货|东西|退货|退款|换货|售后|地址|电话|手机|号码|邮箱|微信|名字|身份证|卡|账户|账号|发票|件|"
    r"老公|老婆|爱人|妈|爸|孩子|儿子|女儿|家人|朋友|同事|同学|投诉|信息)"
)
# A product's model right after a word ("戴森 V12", "小米 14"): the word is a brand.
_MODEL_AFTER = re.compile(r"\s?[A-Za-z]{1,8}\s?[0-9]{1,4}(?![0-9])|\s?[0-9]{1,3}\s?(?:Pro|Max|Plus|Ultra|mini)")


def _product_after(text: str, end: int) -> bool:
    """A model number or a weight right after the words: a brand or a product (戴森 V12, 黄山毛峰 250g)."""
    return bool(_MODEL_AFTER.match(text, end) or re.match(rf"\s?{_QUANTITY}", text[end : end + 12]))


def _brand_after(text: str, end: int) -> bool:
    """What follows a would-be name shows a product, not a person: a model number, a product noun
    right after it (李锦记蚝油, 张裕解百纳), or 的 and something a person does not own (钟薛高的雪糕)."""
    if _product_after(text, end):
        return True
    after = _tag(text[end : end + 5]) if end < len(text) else ()
    if not after:
        return False
    word, flag = after[0]
    if word == "的" and len(after) > 1:
        word, flag = after[1]
        return len(word) >= 2 and _cjk(word) and not _PERSONAL.match(word) and not flag.startswith(_NOT_GIVEN_TAGS)
    return (
        len(word) >= 2
        and flag.startswith(("n", "z"))
        and not flag.startswith("nr")
        and not _PERSONAL.match(word)
        and not _TITLE_AFTER.match(word)
    )


def _about_person(text: str, end: int) -> bool:
    """What follows a would-be name is about a person: the end, a break or a number, a verb a
    person does, a title, or 的 with something of theirs."""
    if end >= len(text) or not _cjk(text[end]):
        return True
    if _PERSON_VERB.match(text, end) or _TITLE_AFTER.match(text, end):
        return True
    if text[end] in "那这" and text[end + 1 : end + 2] in ("单", "件", "笔"):  # 周宁那单: their order
        return True
    return text[end] == "的" and bool(_PERSONAL.match(text, end + 1))


def _after_cue_or_break(text: str, i: int) -> bool:
    """The name starts the text, follows a break, or follows a cue (客户 + 梁振华反馈)."""
    return i == 0 or text[i - 1] in _BREAK_BEFORE or bool(_CUE_END.search(text, max(0, i - 8), i))


# Words for people by their role, which follow a word ending in a surname character (你们家 + 店长说).
_ROLE = re.compile(rf"(?:{_TITLES}|店长|客服|主播|快递|小哥|同事|朋友|前辈|宝宝|宝贝|亲亲|商家|卖家|买家|老公|老婆|孩子|人)")


def _given_ok(text: str, i: int, size: int) -> int:
    """The surname's length when text[i:i+size] reads as surname + a one- or two-character given
    name: a surname that is not the tail of a word before it (主任 + 老师), name characters only,
    not the surname twice (谢谢), and not a dictionary word other than a name (高中同学)."""
    sur = _surname_at(text, i)
    given = text[i + sur : i + size]
    if not sur or i < 0 or not 1 <= len(given) <= 2 or not _cjk(text[i : i + size]):
        return 0
    if any(c in _NOT_GIVEN for c in given) or (sur == 1 and given[0] == text[i]) or _ROLE.match(given):
        return 0
    if _ROLE.fullmatch(text[i : i + size]):  # 师傅说: the role itself
        return 0
    known = _known()
    if i > 0 and _cjk(text[i - 1]) and not known.get(text[i - 1 : i + 1], "nr").startswith("nr"):
        return 0
    tag = known.get(text[i : i + size])
    return sur if tag is None or tag.startswith("nr") else 0


def _name_before(text: str, end: int, need_start: bool, listed: bool = True) -> int:
    """Where a name ending at `end` starts (-1 when none): surname + two characters, then surname
    + one, then a compound surname + two, as jieba reads them too; with `need_start`, only at a
    break or after a cue; without `listed`, not a word in jieba's dictionary, whose person names
    are famous people and also ordinary words it mistags (高峰/nr, 安抚/nr)."""
    for size in (3, 2, 4):
        i = end - size
        sur = _given_ok(text, i, size) if i >= 0 else 0
        if sur and not listed and text[i:end] in _known():
            continue
        if sur and (size != 4 or sur == 2) and (not need_start or _after_cue_or_break(text, i)):
            if _jieba_agrees(text[i:end], sur) and _starts_word(text, i, end):
                return i
    return -1


_FUNCTION_TAGS = ("p", "c", "u", "d", "v", "q", "m", "f")


def _surname_then_given(f0: str, w1: str, f1: str) -> bool:
    """The surname as its own token, then what may be the given name: when jieba reads the surname
    as a verb, a conjunction, a measure word … (付/v, 段/q, 和/c), only a name-like word may follow
    (付 + 志远/nrfg, 段 + 欣然/d, 常 + 永福/nz), not a common noun (有 + 实际/n, 和 + 数字/n)."""
    if not f0.startswith(_FUNCTION_TAGS):
        return True
    return bool(w1) and (f1.startswith(("nr", "nz", "a", "d")) or w1 not in _known())


def _jieba_agrees(word: str, sur: int) -> bool:
    """jieba does not read the word as something else: its first token is the surname alone and a
    given name may follow it (not 有 + 前辈, 张 + 表), a person's name, or a word its HMM made up
    and calls a noun (江浩/ns); not a dictionary word that swallows the surname (商品 + 名)."""
    tokens = _tag(word)
    (w0, f0), (w1, f1) = tokens[0], (tokens[1] if len(tokens) > 1 else ("", ""))
    if len(w0) == sur:
        return _surname_then_given(f0, w1, f1)
    if f0.startswith("nr"):
        return True
    # A word its HMM made up is a name if it is called a noun (江浩/ns, not 通揽/l + 收).
    return w0 not in _known() and f0.startswith("n")


def _tagged_as_name(text: str, i: int, end: int, listed: bool = False) -> bool:
    """jieba, reading a few characters on either side, cuts exactly text[i:end] and calls it a
    person's name (财务部/nt 顾敏/nr 收/v), not something else (开封/v 后/f 建议/n); a name its
    dictionary holds (高峰/nr is one) only with `listed`."""
    lo = max(0, i - 3)
    at, inside = lo, []
    for word, flag in _tag(text[lo : end + 1]):
        if at >= i and at + len(word) <= end:
            inside.append((word, flag))
        elif at < end and at + len(word) > i:
            return False  # a token crosses the name's edge
        at += len(word)
    if len(inside) == 1:
        return inside[0][1].startswith("nr") and (listed or inside[0][0] not in _known())
    return len(inside) == 2 and len(inside[0][0]) == _surname_at(text, i) and inside[1][1].startswith("nr")


def _starts_word(text: str, i: int, end: int) -> bool:
    """With the character before it, jieba still starts a word at the surname, and not as a
    measure word or a verb (哪 + 张/q 表: which table)."""
    if i == 0 or not _cjk(text[i - 1]):
        return True
    at = 0
    for word, flag in _tag(text[i - 1 : end]):
        if at == 1:
            return not (len(word) == 1 and flag.startswith(("q", "m", "v", "p", "c", "d")))
        at += len(word)
        if at > 1:
            return False
    return False


def _foreign_name(word: str, places_too: bool = False, strict: bool = False) -> bool:
    """A name with no Han surname (吉克阿依, 艾克拜尔吐尔洪, 哈斯巴根, 阿依达娜, 其其格): a known
    minority name element or a run of them; or, in three characters or more, jieba reads only
    person-name tokens, perhaps with place-like ones it guesses for transliterations (巴根/ns)
    that are not in the gazetteer, and one trailing character it cannot place; or no dictionary
    knows most of it (not with `strict`, where a verb follows: 请注意查 + 收). With `places_too`,
    a dictionary place word that the gazetteer does not hold counts as well (乌云其木格/ns, in a
    field before a phone number)."""
    if word in _MINORITY or _MINORITY_RUN.fullmatch(word):
        return True
    known = _known()
    if len(word) < 3 or any(c in _PARTICLES for c in word):
        return False
    if word in known:
        tag = known[word]
        return tag.startswith("nr") or (places_too and tag == "ns" and not _place_at(word, 0))
    if known.get(word[:2], "nr").startswith(("v", "p", "c", "d", "r", "m", "q", "u")):
        return False  # a phrase opening with a verb or a function word (请注意…, 不要…)
    tokens = _tag(word)
    if len(tokens) == 1 and tokens[0][1] == "nz":  # 格日乐图/nz: a word jieba made up and called a proper noun
        return True
    kinds = [f.startswith(("nr", "nz")) or (f == "ns" and _place_at(w, 0) != len(w)) for w, f in tokens]
    last_word, last_flag = tokens[-1]
    if any(f.startswith("nr") for _, f in tokens) and all(kinds[:-1]):
        # One character jieba could not place may end it (阿依达/nr + 娜/x, 阿牛木/nr + 呷/v).
        if kinds[-1] or (len(last_word) == 1 and last_word not in _PARTICLES and len(word) >= 4):
            return True
    return not strict and _unknown_word(word)
