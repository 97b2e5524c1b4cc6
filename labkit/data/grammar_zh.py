"""The Chinese grammar: short stories and dialogues; it can say "今天天气不错。".

Rule data only (see ``grammar`` for the template syntax). ``chinese_rules()`` also holds the
single labelled sentences (sentiment, topic, named entities) that ``generate_labelled`` draws
for chapter 5. Taught in chapter 1.
"""

from __future__ import annotations

from itertools import cycle

from labkit.data.pcfg import RawGrammar, fill_templates

HEROES = dict(
    zip("小明 小红 小刚 小丽 小华 小芳 大伟 美美 阿强 玲玲 东东 兰兰".split(), cycle(("他", "她")))
)
"""The heroes of the stories and their pronouns (boys and girls take turns)."""


def _shared_rules() -> RawGrammar:
    """Word lists and slots that every story and dialogue shares."""
    return {
        "<document>": {"<story>": 3, "<dialogue>": 2},
        "<story>": [f"<story_{h}>" for h in HEROES],
        "<dialogue>": [f"<dialogue_{a}_{b}>" for a in HEROES for b in HEROES if a != b],
        # The weather: "今天天气不错。" is one of these sentences.
        "<weather_sentence>": ["<day>天气<weather>。", "<day><weather_event>。"],
        "<day>": "今天 明天 昨天 早上 晚上 中午 周末".split(),
        "<weather>": "不错 很好 很冷 很热 晴朗 真好 不好 暖和".split(),
        "<weather_event>": "下雨了 下雪了 刮风了 出太阳了 有雾".split(),
        "<color>": "红色 蓝色 绿色 黄色 白色 黑色 紫色 粉色".split(),
        "<toy>": "球 风筝 娃娃 小车 书 积木 帽子 气球 铅笔 杯子 钥匙 雨伞 玩具熊 口琴".split(),
        "<place>": "公园 学校 河边 花园 商店 海边 家里 动物园 山上 图书馆 超市 操场".split(),
        "<feeling>": "高兴 开心 难过 累 饿 害怕 生气 困 无聊 激动".split(),
        "<food>": "苹果 面条 饺子 米饭 蛋糕 包子 西瓜 鸡蛋 香蕉".split(),
        "<animal>": "小狗 小猫 小鸟 小鸭 兔子 小鱼 小马 青蛙".split(),
        "<animal_did>": "跑了 睡着了 叫了起来 回来了 跳了起来 不见了 吃饱了".split(),
        "<activity>": "唱歌 跳舞 画画 看书 放风筝 踢球 游泳 散步".split(),
        "<count>": "两 三 四 五 六 七 八 九 十".split(),
        "<greeting>": "你好 早上好 嗨 晚上好".split(),
        "<proposal>": [
            "我们去<place>玩吧。",
            "我们一起<activity>吧。",
            "我们去吃<food>吧。",
            "你想去<place>吗？",
        ],
        "<answer>": ["好啊！", "好的，走吧。", "不行，我要写作业。", "太好了！", "我不想去。"],
        # One more exchange: a remark and a reply that fits it.
        "<like_reply>": ["喜欢。", "不喜欢。", "很喜欢！"],
        "<have_reply>": ["有。", "没有。", "我有两个。"],
        "<agree_reply>": ["是啊。", "真的吗？", "太好了。"],
        "<feel_reply>": ["我也是。", "为什么？", "别担心。"],
    }


# Each hero's sentences, with placeholders: {H} is the name, {he} the pronoun.
_HERO_SENTENCES: RawGrammar = {
    "<intro_{H}>": [
        "{H}有一个<color>的<toy>。",
        "{H}在<place>找到了一个<toy>。",
        "<friend_{H}>送给{H}一个<toy>。",
        "{H}有<count>个<toy>。",
    ],
    "<body_{H}>": {"<sentence_{H}><body_{H}>": 3, "<ending_{H}>": 1},
    "<sentence_{H}>": [
        "{he}<did_{H}>。",
        "然后{he}<did_{H}>。",
        "<friend_{H}>很<feeling>。",
        "{he}觉得很<feeling>。",
        "<friend_{H}>说：“<said_{H}>”",
        "<animal><animal_did>。",
        "他们一起去<place><activity>。",
        "<place>有<count>只<animal>。",
    ],
    "<did_{H}>": [
        "把它给了<friend_{H}>",
        "和<friend_{H}>去<place>玩",
        "在<place>吃了<food>",
        "把它丢在<place>了",
        "很喜欢它",
        "去<place>找<friend_{H}>",
        "买了<count>个<food>",
    ],
    "<said_{H}>": [
        "{H}，你的<toy>真好看！",
        "我们去<place>吧！",
        "我也想要一个<toy>。",
        "<weather_sentence>",
    ],
    "<ending_{H}>": [
        "最后，{he}回家了。\n\n",
        "晚上，{he}睡得很好。\n\n",
        "{he}今天很<feeling>。\n\n",
    ],
}


def _hero_rules(friends: list[str]) -> RawGrammar:
    """One hero's rules, still with placeholders; ``friends`` are the other heroes."""
    return {
        "<story_{H}>": {
            "<weather_sentence><intro_{H}><body_{H}>": 1,
            "<intro_{H}><body_{H}>": 1,
        },
        "<friend_{H}>": friends,
        **_HERO_SENTENCES,
    }


# One copy per pair of heroes {A} and {B}: a greeting, a proposal, then more exchanges.
_DIALOGUE_RULES: RawGrammar = {
    "<dialogue_{A}_{B}>": [
        "{A}：<greeting>，{B}！\n{B}：<greeting>！<weather_sentence>\n"
        "{A}：<proposal>\n{B}：<answer>\n<more_{A}_{B}>"
    ],
    "<more_{A}_{B}>": {"<exchange_{A}_{B}><more_{A}_{B}>": 1, "\n": 1},
    "<exchange_{A}_{B}>": [
        "{A}：你喜欢<food>吗？\n{B}：<like_reply>\n",
        "{A}：你有<toy>吗？\n{B}：<have_reply>\n",
        "{A}：<weather_sentence>\n{B}：<agree_reply>\n",
        "{A}：我很<feeling>。\n{B}：<feel_reply>\n",
    ],
}


def _labelled_rules() -> RawGrammar:
    """Single labelled sentences for chapter 5 (see ``generate_labelled``)."""
    return {
        "<person>": list(HEROES),
        "<friend>": "李雷 韩梅梅 王芳 张伟 刘洋 陈静 赵磊 孙悦".split(),
        "<positive>": [
            "<person>很喜欢这个<toy>。",
            "这个<toy>真<good>。",
            "<person>很<glad>。",
            "<person>一点也不<unhappy>。",
        ],
        "<negative>": [
            "<person>不喜欢这个<toy>。",
            "这个<toy>真<bad>。",
            "<person>很<unhappy>。",
            "<person>一点也不<glad>。",
        ],
        "<good>": "好看 好玩 漂亮 可爱 不错".split(),
        "<bad>": "难看 无聊 脏 旧 难用".split(),
        "<glad>": "高兴 开心 激动 满意".split(),
        "<unhappy>": "难过 生气 害怕 失望".split(),
        "<topic_weather>": ["<weather_sentence>", "<place>的天气<weather>。"],
        "<topic_animals>": [
            "<animal><animal_did>。",
            "<place>有<count>只<animal>。",
            "<person>喂了<animal>。",
        ],
        "<topic_food>": [
            "<person>吃了<food>。",
            "<person>买了<count>个<food>。",
            "<friend>做了<food>。",
        ],
        "<topic_play>": [
            "<person>在<place><activity>。",
            "<person>有一个<color>的<toy>。",
            "<person>和<friend>一起<activity>。",
        ],
        "<ner>": [
            "<person>去了<city>。",
            "<person>和<friend>在<city>见面了。",
            "<person>在<city>买了一个<toy>。",
            "<person>送给<friend>一个<toy>。",
            "<friend>住在<city>。",
        ],
        "<city>": "北京 上海 广州 深圳 杭州 成都 西安 南京 武汉 香港".split(),
    }


def chinese_rules() -> RawGrammar:
    """The Chinese story and dialogue grammar as templates (a fresh copy each call).

    Taught in chapter 1.
    """
    g = _shared_rules()
    for hero, he in HEROES.items():
        friends = [name for name in HEROES if name != hero]
        g.update(fill_templates(_hero_rules(friends), {"H": hero, "he": he}))
    for a in HEROES:
        for b in HEROES:
            if a != b:
                g.update(fill_templates(_DIALOGUE_RULES, {"A": a, "B": b}))
    g.update(_labelled_rules())
    return g
