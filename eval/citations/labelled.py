# ruff: noqa: E501  (hand-written answer sentences and passage lists: one item a line)
"""The labelled set of the citation check: answer sentences written by hand over passages of the bundled
corpus (data/corpus) and of the external sets (CMRC 2018 trial, Simplified; DRCD dev, Traditional).

Written for this purpose (2026-12-02), before the checker was measured on it and not changed to suit it.
Each scene is a list of passages numbered [1]..[n] as a model would see them; each item is one answer
sentence with its markers, its label and its kind:

- label ``supported``: kinds ``paraphrase`` (Chinese over Chinese), ``translation`` (English over Chinese),
  ``multi-citation`` (facts of two passages, both cited);
- label ``unsupported``: ``wrong-number``, ``swapped-year``, ``swapped-number``, ``wrong-citation`` (a real
  fact of another passage of the scene cited to the wrong [n]), ``invented-name``, ``negation`` (the
  passage says the opposite), ``no-citation``, ``nonexistent-citation``;
- label ``no_answer``: a sentence saying the passages do not answer (no claim; must not count as
  unsupported).

Scenes are split whole: ``dev`` (thresholds and choices are made on it), ``heldout`` (reported; its errors
were read once, after the first report, and the general faults they showed were fixed) and ``fresh``
(written after those fixes, never used for any choice).
``python -m eval.citations.labelled`` writes data/eval/citation_check.jsonl from this file.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]
OUT = PROJECT / "data" / "eval" / "citation_check.jsonl"
CORPUS_WHITE_PAPER = "data/corpus/001_059a96eb747583e2.txt"
CMRC = "data/eval/external/cmrc_trial/corpus/"
DRCD = "data/eval/external/drcd_dev/corpus/"
MAX_PASSAGE = 420  # characters: about one chunk of the index (480 tokens of e5's tokenizer)

# scene → (split, source, [(file, the quote the passage is the paragraph of)])
SCENES = {
    "S1": ("dev", "corpus", [(CORPUS_WHITE_PAPER, "信息基础设施建设规模日益扩大"), (CORPUS_WHITE_PAPER, "北斗三号全球卫星导航系统建成开通"),
                             (CORPUS_WHITE_PAPER, "数字化水平和能力不断提升"), (CORPUS_WHITE_PAPER, "据研究机构测算")]),
    "S4": ("dev", "corpus", [(CORPUS_WHITE_PAPER, "教育信息化水平持续提升"), (CORPUS_WHITE_PAPER, "互联网助力精准扶贫取得积极成效"),
                             (CORPUS_WHITE_PAPER, "工业互联网发展进入快车道"), (CORPUS_WHITE_PAPER, "数字技术创新应用持续深化")]),
    "C1": ("dev", "cmrc", [(CMRC + "cmrctrial0039.md", ""), (CMRC + "cmrctrial0032.md", ""), (CMRC + "cmrctrial0024.md", "")]),
    "D2": ("dev", "drcd", [(DRCD + "drcddev0051.md", ""), (DRCD + "drcddev0060.md", ""), (DRCD + "drcddev0061.md", ""),
                           (DRCD + "drcddev0053.md", "")]),
    "S2": ("heldout", "corpus", [(CORPUS_WHITE_PAPER, "积极参与二十国集团框架下数字经济合作"), (CORPUS_WHITE_PAPER, "不断拓展金砖国家数字经济交流合作"),
                                 (CORPUS_WHITE_PAPER, "积极推动世贸组织数字经济合作"), (CORPUS_WHITE_PAPER, "推进亚太经合组织数字经济合作进程")]),
    "S3": ("heldout", "corpus", [(CORPUS_WHITE_PAPER, "中国坚持以开放包容的态度推动全球数据安全治理"), (CORPUS_WHITE_PAPER, "中国积极推动金砖国家网络安全领域合作"),
                                 (CORPUS_WHITE_PAPER, "积极开展网络安全应急响应领域的国际合作"), (CORPUS_WHITE_PAPER, "中国一贯支持打击网络犯罪国际合作")]),
    "S5": ("heldout", "corpus", [(CORPUS_WHITE_PAPER, "2014年以来，中国连续八年在浙江乌镇"), (CORPUS_WHITE_PAPER, "近年来，国际各方建议将世界互联网大会打造成为国际组织"),
                                 (CORPUS_WHITE_PAPER, "2017年3月，中国发布首份"), (CORPUS_WHITE_PAPER, "深化中俄网信领域的高水平合作")]),
    "S6": ("heldout", "corpus", [(CORPUS_WHITE_PAPER, "云计算、人工智能等新技术创新应用发展"), (CORPUS_WHITE_PAPER, "不断拓展与联合国专门机构的网络事务合作"),
                                 (CORPUS_WHITE_PAPER, "坚持以开放包容的态度推进中欧网信合作"), (CORPUS_WHITE_PAPER, "打造网上文化交流平台")]),
    "C2": ("heldout", "cmrc", [(CMRC + "cmrctrial0052.md", ""), (CMRC + "cmrctrial0046.md", ""), (CMRC + "cmrctrial0057.md", ""),
                               (CMRC + "cmrctrial0056.md", "")]),
    "D1": ("heldout", "drcd", [(DRCD + "drcddev0027.md", ""), (DRCD + "drcddev0049.md", ""), (DRCD + "drcddev0059.md", "")]),
    # written after the held-out part had been looked at (and the checker fixed): never seen by any choice
    "F1": ("fresh", "corpus", [("data/corpus/002_a9fc0cefc3339bd2.txt", "2015年12月，习近平总书记在第二届世界互联网大会"),
                               ("data/corpus/002_a9fc0cefc3339bd2.txt", "在第二届世界互联网大会上，习近平总书记提出了"),
                               ("data/corpus/002_a9fc0cefc3339bd2.txt", "网络主权原则得到广大发展中国家的拥护"),
                               ("data/corpus/002_a9fc0cefc3339bd2.txt", "构建网络空间命运共同体是网络强国的组成部分")]),
    "F2": ("fresh", "corpus", [("data/corpus/002_a9fc0cefc3339bd2.txt", "网络空间命运共同体理念展现了中国"),
                               ("data/corpus/004_6efb57d353e2f94c.txt", "2015年，中国国家主席习近平在第二届世界互联网大会首次提出"),
                               ("data/corpus/000_69abfd657dd65b26.txt", "构建安全共同体。安全是发展的前提")]),
    "F3": ("fresh", "cmrc+drcd", [(CMRC + "cmrctrial0049.md", ""), (CMRC + "cmrctrial0051.md", ""), (DRCD + "drcddev0048.md", ""),
                                  (DRCD + "drcddev0052.md", "")]),
}  # fmt: skip

S, U, N = "supported", "unsupported", "no_answer"
# (scene, answer sentence with markers, label, kind)
ITEMS = [
    # S1: [1] internet users, 5G, IPv6  [2] BeiDou  [3] e-commerce  [4] digital economy
    ("S1", "截至2022年6月，中国网民规模达到10.51亿，互联网普及率为74.4%。[1]", S, "paraphrase"),
    ("S1", "As of June 2022, China had 1.051 billion internet users, an internet penetration rate of 74.4% [1].", S, "translation"),
    ("S1", "China had built 1.854 million 5G base stations by June 2022 [1].", S, "translation"),
    ("S1", "中国5G移动电话用户达4.55亿，2021年数字经济规模达到45.5万亿元。[1][4]", S, "multi-citation"),
    ("S1", "The BeiDou-3 system opened in July 2020, and in 2021 China's online retail sales of physical goods reached 10.8 trillion yuan [2][3].", S, "multi-citation"),
    ("S1", "E-commerce kept booming in China, with online retail of physical goods making up 24.5% of total retail sales of consumer goods in 2021 [3].", S, "translation"),
    ("S1", "截至2022年6月，中国网民规模达11.51亿。[1]", U, "wrong-number"),
    ("S1", "China's digital economy accounted for 41.8% of GDP in 2021 [4].", U, "wrong-number"),
    ("S1", "2021年，中国可数字化交付的服务贸易规模达2.33万亿元，同比增长41.4%。[3]", U, "wrong-number"),
    ("S1", "The BeiDou-3 global system was opened in 2021, and in 2020 the satellite navigation industry reached 469 billion yuan [2].", U, "swapped-year"),
    ("S1", "2021年中国跨境电商进出口规模达到1.92万亿元。[2]", U, "wrong-citation"),
    ("S1", "China's IPv6 active users reached 697 million by July 2022 [4].", U, "wrong-citation"),
    ("S1", "By the end of 2021, more than 1 billion terminal products with BeiDou positioning were in use [1].", U, "wrong-citation"),
    ("S1", "北斗产业体系基本形成，经济和社会效益显著。", U, "no-citation"),
    ("S1", "Cross-border e-commerce grew 18.6% in 2021 [5].", U, "nonexistent-citation"),
    ("S1", "截至2022年6月，中国尚未建成全球规模最大的5G网络。[1]", U, "negation"),
    ("S1", "According to the Ministry of Commerce, online retail sales reached 10.8 trillion yuan in 2021 [3].", U, "invented-name"),
    ("S1", "据工业和信息化部测算，截至2021年中国数字经济规模达到45.5万亿元。[4]", U, "invented-name"),
    ("S1", "The passages do not say how many 5G base stations were built in 2023.", N, "no-answer"),
    ("S1", "文中没有提到2023年的网民规模。", N, "no-answer"),
    # S4: [1] education  [2] poverty alleviation  [3] industrial internet  [4] big data, internet firms
    ("S4", "国家智慧教育公共服务平台于2022年3月正式上线。[1]", S, "paraphrase"),
    ("S4", "The national smart education platform connects 529,000 schools and serves 18.44 million teachers [1].", S, "translation"),
    ("S4", "By the end of 2020, over 98% of villages in poor areas had fibre-optic access [2].", S, "translation"),
    ("S4", "截至2021年底，中小学互联网接入率达到100%；截至2020年底，全国共建设运营益农信息社45.4万个。[1][2]", S, "multi-citation"),
    ("S4", "As of February 2022, the numerical-control rate of key processes in large industrial firms was 55.3% [3].", S, "translation"),
    ("S4", "“十三五”期间，大数据产业规模的年均复合增长率在30%以上。[4]", S, "paraphrase"),
    ("S4", "Big data industry grew at a compound annual rate of more than 30% during the 13th Five-Year Plan period [4].", S, "translation"),
    ("S4", "The platform offers 6,628 vocational courses and 3.4 million basic-education course resources [1].", U, "wrong-number"),
    ("S4", "截至2021年底贫困村通光纤比例达98%以上，2020年中国农村网络零售额达2.05万亿元。[2]", U, "swapped-year"),
    ("S4", "China selected 258 national industrial internet demonstration bases and 4 pilot projects [3].", U, "swapped-number"),
    ("S4", "2021年，规模以上互联网和相关服务企业完成业务收入15500亿元。[3]", U, "wrong-citation"),
    ("S4", "Rural online retail sales grew 11.3% in 2021 [6].", U, "nonexistent-citation"),
    ("S4", "平台已连接52.9万所学校。", U, "no-citation"),
    ("S4", "Telemedicine now covers all county hospitals in national-level poor counties.", U, "no-citation"),
    ("S4", "Digital R&D tools have not yet been adopted by Chinese industrial firms [3].", U, "negation"),
    ("S4", "国家智慧教育公共服务平台尚未上线。[1]", U, "negation"),
    ("S4", "The Ministry of Education reported that 99.5% of primary and secondary schools have multimedia classrooms [1].", U, "invented-name"),
    ("S4", "《网络扶贫行动计划》由国家发展改革委实施，包括网络覆盖、农村电商等五大工程。[2]", U, "invented-name"),
    ("S4", "The passages do not mention how many universities joined the platform.", N, "no-answer"),
    ("S4", "所提供的资料未涉及2023年的数据。", N, "no-answer"),
    # C1: [1] Furong Cave  [2] Later Liao  [3] sulfites
    ("C1", "芙蓉洞于1993年被发现，次年对游人开放。[1]", S, "paraphrase"),
    ("C1", "Furong Cave is 2,846 metres long [1].", S, "translation"),
    ("C1", "In 2007 the cave became part of a UN World Natural Heritage site, the first karst cave in China to be listed [1].", S, "translation"),
    ("C1", "后辽存在于1216年至1219年，是契丹耶律家族最后一个称帝的政权。[2]", S, "paraphrase"),
    ("C1", "The Later Liao fell in the spring of 1219 when Hanshe was defeated and killed himself [2].", S, "translation"),
    ("C1", "欧盟关于亚硫酸盐的类似规定始于2005年11月。[3]", S, "paraphrase"),
    ("C1", "About 1% of asthma patients may be allergic to sulfites, and white wine contains more sulfites than red wine [3].", S, "translation"),
    ("C1", "芙蓉洞2002年被列为国家4A级旅游景区，而后辽在1216年建立。[1][2]", S, "multi-citation"),
    ("C1", "Furong Cave is 20 kilometres from Wulong county town and its deepest shaft, Qikeng Cave, is 290 metres deep [1].", U, "wrong-number"),
    ("C1", "芙蓉洞于1994年被发现，1993年对游人开放。[1]", U, "swapped-year"),
    ("C1", "In the US, the labelling rule started in 2005, and the EU's similar rule began in 1987 [3].", U, "swapped-year"),
    ("C1", "耶律金山在高丽国境内自称大辽收国王。[1]", U, "wrong-citation"),
    ("C1", "Sulfite allergy can cause breathing difficulty within minutes [4].", U, "nonexistent-citation"),
    ("C1", "芙蓉洞内有70多种沉积物。", U, "no-citation"),
    ("C1", "白葡萄酒比红葡萄酒含有更少的亚硫酸盐。[3]", U, "negation"),
    ("C1", "The Later Liao was founded by Yelu Chucai in Chengzhou [2].", U, "invented-name"),
    ("C1", "The passages do not say who discovered Furong Cave.", N, "no-answer"),
    ("C1", "文中没有提到后辽的人口。", N, "no-answer"),
    # D2 (Traditional passages): [1] Dutch armed forces  [2] vanadium  [3] Brooklyn Nets  [4] Taiqian County
    ("D2", "荷兰军队自1996年起完全实行募兵制。[1]", S, "paraphrase"),
    ("D2", "The Dutch defence ministry employs 48,000 military personnel and 21,000 civilian staff [1].", S, "translation"),
    ("D2", "Vanadium has atomic number 23 [2].", S, "translation"),
    ("D2", "1801年，西班牙矿物学家德里奥在墨西哥城首先发现了钒。[2]", S, "paraphrase"),
    ("D2", "The Nets won the ABA championship in 1974 and 1976 [3].", S, "translation"),
    ("D2", "Vanadium was first obtained in pure form in 1867, and the Nets joined the NBA in 1976 [2][3].", S, "multi-citation"),
    ("D2", "台前县面积454平方公里，2002年人口为35万。[4]", S, "paraphrase"),
    ("D2", "Military spending was about 1.56% of GDP in 2009 [1].", U, "wrong-number"),
    ("D2", "台前县全县面积545平方公里。[4]", U, "wrong-number"),
    ("D2", "Vanadium was rediscovered in 1867 and first obtained in pure form in 1831 [2].", U, "swapped-year"),
    ("D2", "1952年台前所属的寿张县隶属平原省聊城专区，1949年平原省撤销。[4]", U, "swapped-year"),
    ("D2", "The team was renamed the Nets partly because New York already had the Mets and the Jets [1].", U, "wrong-citation"),
    ("D2", "1968年，球队老板把球队搬迁到长岛。[4]", U, "wrong-citation"),
    ("D2", "Taiqian County lies on the Beijing–Kowloon railway [5].", U, "nonexistent-citation"),
    ("D2", "钒的化合物色彩缤纷。", U, "no-citation"),
    ("D2", "The Netherlands still relies on conscription for its armed forces [1].", U, "negation"),
    ("D2", "Vanadium was first discovered by the Swedish chemist Carl Scheele in Mexico City [2].", U, "invented-name"),
    ("D2", "None of the passages say how many games the Nets won in 2003.", N, "no-answer"),
    ("D2", "材料中并未说明钒的价格。", N, "no-answer"),
    # S2: [1] G20  [2] BRICS digital economy  [3] WTO  [4] APEC
    ("S2", "2016年二十国集团领导人第十一次峰会在中国举行，会议首次将数字经济列为创新增长蓝图中的重要议题。[1]", S, "paraphrase"),
    ("S2", "The G20 Digital Economy Development and Cooperation Initiative was the world's first digital-economy policy document signed by leaders of several countries [1].", S, "translation"),
    ("S2", "At the 2017 BRICS summit held in China, the Xiamen Declaration called for deeper practical cooperation in ICT and e-commerce [2].", S, "translation"),
    ("S2", "2019年，金砖国家未来网络研究院中国分院在深圳揭牌成立。[2]", S, "paraphrase"),
    ("S2", "In 2019, China joined 76 WTO members in issuing the Joint Statement on Electronic Commerce [3].", S, "translation"),
    ("S2", "China joined the WTO's Friends of E-commerce for Development in 2017 [3].", S, "translation"),
    ("S2", "2014年中国首次将互联网经济引入亚太经合组织合作框架，2017年中国正式宣布加入世贸组织“电子商务发展之友”。[4][3]", S, "multi-citation"),
    ("S2", "China hosted both the 2016 G20 summit and the 2017 BRICS summit [1][2].", S, "multi-citation"),
    ("S2", "2019年，中国与86个世贸组织成员共同发表《关于电子商务的联合声明》。[3]", U, "wrong-number"),
    ("S2", "The 2022 BRICS summit, the fifteenth meeting of its leaders, adopted the BRICS Digital Economy Partnership Framework [2].", U, "wrong-number"),
    ("S2", "2019年中国首次将互联网经济引入亚太经合组织合作框架，2014年亚太经合组织数字经济指导组成立。[4]", U, "swapped-year"),
    ("S2", "China announced joining the WTO's Friends of E-commerce for Development in 2019 and co-issued the Joint Statement on Electronic Commerce in 2017 [3].", U, "swapped-year"),
    ("S2", "The Xiamen Declaration was adopted at the BRICS summit in China [1].", U, "wrong-citation"),
    ("S2", "2022年，中国与其他世贸组织成员共同发表《电子商务工作计划》部长决定。[4]", U, "wrong-citation"),
    ("S2", "China promoted the APEC Internet and Digital Economy Roadmap [7].", U, "nonexistent-citation"),
    ("S2", "数字经济成为二十国集团核心议题之一。", U, "no-citation"),
    ("S2", "China has never taken part in G20 digital economy ministers' meetings [1].", U, "negation"),
    ("S2", "The G20 Digital Economy Initiative was drafted by Germany and adopted in Hangzhou [1].", U, "invented-name"),
    ("S2", "《金砖国家领导人上海宣言》提出深化电子商务领域的务实合作。[2]", U, "invented-name"),
    ("S2", "The documents do not say which country proposed the BRICS framework.", N, "no-answer"),
    # S3: [1] data security  [2] BRICS/SCO cybersecurity  [3] CNCERT  [4] cybercrime
    ("S3", "China released the Global Initiative on Data Security in September 2020 [1].", S, "translation"),
    ("S3", "2021年3月，中国同阿拉伯国家联盟秘书处发表了《中阿数据安全合作倡议》。[1]", S, "paraphrase"),
    ("S3", "In June 2022 the third China + Central Asia foreign ministers' meeting adopted a data security cooperation initiative [1].", S, "translation"),
    ("S3", "By 2021 CNCERT had partnerships with 274 computer emergency response organisations in 81 countries and regions [3].", S, "translation"),
    ("S3", "中国与其中33个计算机应急响应组织签订了网络安全合作备忘录。[3]", S, "paraphrase"),
    ("S3", "Between 2011 and 2021, the UN intergovernmental expert group on cybercrime met seven times with China's support [4].", S, "translation"),
    ("S3", "2017年金砖五国达成《金砖国家网络安全务实合作路线图》，2020年9月中国发布《全球数据安全倡议》。[2][1]", S, "multi-citation"),
    ("S3", "China signed cybersecurity memoranda with Indonesia in 2021 and with Thailand in 2022 [2].", S, "translation"),
    ("S3", "截至2021年，已与91个国家和地区的274个计算机应急响应组织建立合作伙伴关系。[3]", U, "wrong-number"),
    ("S3", "The UN cybercrime expert group held 9 meetings from 2011 to 2021 [4].", U, "wrong-number"),
    ("S3", "China signed a memorandum with Indonesia in 2022 and one with Thailand in 2021 [2].", U, "swapped-year"),
    ("S3", "2021年9月中国发布《全球数据安全倡议》，2020年3月中国同阿盟秘书处发表《中阿数据安全合作倡议》。[1]", U, "swapped-year"),
    ("S3", "The China–ASEAN Cybersecurity Exchange and Training Center was established [1].", U, "wrong-citation"),
    ("S3", "中国支持在联合国框架下制订打击网络犯罪全球性公约。[2]", U, "wrong-citation"),
    ("S3", "The SCO information security expert group adopted a cooperation plan for 2022–2023 [5].", U, "nonexistent-citation"),
    ("S3", "China supports discussions on privacy protection at the UN General Assembly.", U, "no-citation"),
    ("S3", "中国不支持联合国大会有关隐私权保护问题的讨论。[1]", U, "negation"),
    ("S3", "China signed a cybersecurity memorandum with Vietnam in 2022 [2].", U, "invented-name"),
    ("S3", "上述段落均未提到数据安全倡议的具体条款。", N, "no-answer"),
    ("S3", "I could not find the number of CNCERT staff in the passages.", N, "no-answer"),
    # S5: [1] Wuzhen conference  [2] WIC organisation  [3] cyberspace strategy  [4] China–Russia
    ("S5", "Since 2014, China has hosted the World Internet Conference in Wuzhen, Zhejiang, for eight consecutive years [1].", S, "translation"),
    ("S5", "世界互联网大会国际组织于2022年7月在北京成立。[2]", S, "paraphrase"),
    ("S5", "In March 2017 China published its first International Strategy of Cooperation on Cyberspace [3].", S, "translation"),
    ("S5", "2015年中俄两国政府签署了关于在保障国际信息安全领域合作的协定。[4]", S, "paraphrase"),
    ("S5", "Since 2016, China and Russia have jointly held five China-Russia internet media forums [4].", S, "translation"),
    ("S5", "2014年以来乌镇连续举办世界互联网大会，2022年7月世界互联网大会国际组织在北京成立。[1][2]", S, "multi-citation"),
    ("S5", "China published its international cyberspace strategy in 2017, and in 2021 China and Russia issued a joint statement on the 20th anniversary of their friendship treaty [3][4].", S, "multi-citation"),
    ("S5", "中国连续十年在浙江乌镇举办世界互联网大会。[1]", U, "wrong-number"),
    ("S5", "In 2021, China and Russia marked the 25th anniversary of their Treaty of Good-Neighbourliness [4].", U, "wrong-number"),
    ("S5", "2021年中俄签署信息安全合作协定，2015年中俄发布联合声明。[4]", U, "swapped-year"),
    ("S5", "China and Russia signed their information security agreement in 2016 and began holding internet media forums in 2015 [4].", U, "swapped-year"),
    ("S5", "The World Internet Conference International Organization was founded in Beijing in July 2022 [3].", U, "wrong-citation"),
    ("S5", "中国发布首份《网络空间国际合作战略》。[1]", U, "wrong-citation"),
    ("S5", "The conference features the Light of Internet Expo [5].", U, "nonexistent-citation"),
    ("S5", "大会不断创新办会模式、丰富活动形式。", U, "no-citation"),
    ("S5", "The World Internet Conference did not take place in Wuzhen [1].", U, "negation"),
    ("S5", "世界互联网大会国际组织于2022年7月在上海成立。[2]", U, "invented-name"),
    ("S5", "The International Strategy of Cooperation on Cyberspace was drafted by the Ministry of Foreign Affairs [3].", U, "invented-name"),
    ("S5", "The passages don't state how many countries attended the 2022 conference.", N, "no-answer"),
    ("S5", "无法从所给段落中确定大会的参会人数。", N, "no-answer"),
    # S6: [1] cloud, AI, Qingdao  [2] UN agencies, WIPO  [3] China–EU  [4] online culture
    ("S6", "In May 2015 China and UNESCO held an international conference on ICT in education in Qingdao, which adopted the Qingdao Declaration [1].", S, "translation"),
    ("S6", "2019年5月，中国与联合国教科文组织在北京举办国际人工智能与教育大会，通过了《北京共识》。[1]", S, "paraphrase"),
    ("S6", "A global microbial data network was built with 141 partners from 51 countries [1].", S, "translation"),
    ("S6", "2019年7月，中国与世界知识产权组织签署合作备忘录。[2]", S, "paraphrase"),
    ("S6", "At the end of 2019, an international online education institute was launched with 4 Chinese universities, 11 universities in Asia-Pacific and Africa, and 9 companies [2].", S, "translation"),
    ("S6", "中欧网络工作组机制建立于2012年，至今已召开八次会议。[3]", S, "paraphrase"),
    ("S6", "In September 2020, 16 national museums from 15 countries took part in an online relay showcasing museum collections [4].", S, "translation"),
    ("S6", "2012年建立中欧网络工作组机制，2020年6月上线“中国联合展台在线平台”。[3][4]", S, "multi-citation"),
    ("S6", "The Silk Road digital heritage platform presents 1,800 World Heritage and tourism sites [4].", U, "wrong-number"),
    ("S6", "中欧数字经济和网络安全专家工作组先后召开六次会议。[3]", U, "wrong-number"),
    ("S6", "China and UNESCO held the Qingdao conference in May 2019 and the Beijing conference in May 2015 [1].", U, "swapped-year"),
    ("S6", "国际网络教育学院由4所亚太、非洲地区的高等院校与11所中国高校共同发起。[2]", U, "swapped-number"),
    ("S6", "China co-hosted the 2019 China-Germany Internet Economy Dialogue [4].", U, "wrong-citation"),
    ("S6", "中国积极参与联合国教科文组织《人工智能伦理建议书》制定工作。[1]", U, "wrong-citation"),
    ("S6", "The 2021 Dunhuang seminar was held with French museums [0].", U, "nonexistent-citation"),
    ("S6", "与英国联合主办多届中英互联网圆桌会议。", U, "no-citation"),
    ("S6", "The International Telecommunication Union has never co-organised the World Internet Conference [2].", U, "negation"),
    ("S6", "China helped Vietnam build a 5G smart demonstration factory [1].", U, "invented-name"),
    ("S6", "2021年5月，联合英国相关博物馆举办“敦煌学的跨时空交流与数字保护探索”线上研讨会。[4]", U, "invented-name"),
    ("S6", "There is no information in the passages about the cost of the platform.", N, "no-answer"),
    # C2: [1] Pan Shicheng  [2] Markus Winkelhock  [3] Nong Nooch garden  [4] Avetheropoda
    ("C2", "潘仕成出生于清嘉庆九年（1804年），祖籍福建。[1]", S, "paraphrase"),
    ("C2", "Pan Shicheng was born in 1804 and died in 1873 [1].", S, "translation"),
    ("C2", "Markus Winkelhock was born on 13 June 1980 [2].", S, "translation"),
    ("C2", "温克霍克在2007年欧洲大奖赛中一度领先33秒。[2]", S, "paraphrase"),
    ("C2", "In that race he retired on lap 15 due to a hydraulic failure, having led for 6 laps [2].", S, "translation"),
    ("C2", "萱侬律是泰国春武里府一个占地约两平方公里的热带植物公园。[3]", S, "paraphrase"),
    ("C2", "Nong Nooch Tropical Botanical Garden opened to the public in 1980 [3].", S, "translation"),
    ("C2", "Paul Sereno proposed the concept of Avetheropoda in 1988 [4].", S, "translation"),
    ("C2", "潘仕成曾捐助军需银八万两，温克霍克于2006年1月24日成为米德兰车队试车手。[1][2]", S, "multi-citation"),
    ("C2", "潘仕成曾捐官30万两白银，成为二品官。[1]", U, "wrong-number"),
    ("C2", "The founders bought 4.2 square kilometres of land in 1954 [3].", U, "wrong-number"),
    ("C2", "Holtz formally named Avetheropoda in 1999, and Padian defined it in 1994 [4].", U, "swapped-year"),
    ("C2", "1980年他们把经营权移交给儿子，2001年对公众开放。[3]", U, "swapped-year"),
    ("C2", "He raced in the DTM series in 2007–2008 [1].", U, "wrong-citation"),
    ("C2", "道光二十二年，潘仕成出资延请美国军官在广州研发水雷。[2]", U, "wrong-citation"),
    ("C2", "Nong Nooch has two restaurants and a small zoo [6].", U, "nonexistent-citation"),
    ("C2", "温克霍克的父亲和叔叔都曾是F1车手。", U, "no-citation"),
    ("C2", "This was not his only Formula One race [2].", U, "negation"),
    ("C2", "Pan Shicheng hired the British officer John Smith to develop naval mines [1].", U, "invented-name"),
    ("C2", "文中未提及萱侬律的门票价格。", N, "no-answer"),
    # D1 (Traditional passages): [1] ASUS  [2] China Democratic National Construction Association  [3] CDPF
    ("D1", "ASUS was the fourth-largest PC vendor by sales in 2015 [1].", S, "translation"),
    ("D1", "华硕总部设于台北市北投区。[1]", S, "paraphrase"),
    ("D1", "2008年台湾十大全球品牌调查中，华硕在IT硬件类别排名第一，品牌价值达13亿美元。[1]", S, "paraphrase"),
    ("D1", "The China Democratic National Construction Association was founded on 16 December 1945 in Chongqing [2].", S, "translation"),
    ("D1", "荣毅仁是唯一一位来自民建的国家副主席。[2]", S, "paraphrase"),
    ("D1", "The China Disabled Persons' Federation was formally established in Beijing on 11 March 1988 [3].", S, "translation"),
    ("D1", "中国残联是在1953年成立的中国盲人聋哑人协会和1984年成立的中国残疾人福利基金会基础上成立的。[3]", S, "paraphrase"),
    ("D1", "ASUS is listed on the Taiwan and London stock exchanges, and the Democratic National Construction Association was founded in 1945 [1][2].", S, "multi-citation"),
    ("D1", "华硕在2008年台湾十大全球品牌调查中品牌价值达31亿美元。[1]", U, "wrong-number"),
    ("D1", "The China Democratic National Construction Association ranks second among China's democratic parties [2].", U, "wrong-number"),
    ("D1", "中国盲人聋哑人协会成立于1984年，中国残疾人福利基金会成立于1953年。[3]", U, "swapped-year"),
    ("D1", "Rong Yiren was the only state vice-president from the party [1].", U, "wrong-citation"),
    ("D1", "中国残联分设中国盲人协会、中国聋人协会等专门协会。[2]", U, "wrong-citation"),
    ("D1", "ASUS was the fourth-largest PC vendor in 2015 [4].", U, "nonexistent-citation"),
    ("D1", "ASUS is also an OEM manufacturer.", U, "no-citation"),
    ("D1", "华硕并未在伦敦证券交易所上市。[1]", U, "negation"),
    ("D1", "The party was founded in Nanjing in December 1945 [2].", U, "invented-name"),
    ("D1", "The passages do not give ASUS's annual revenue.", N, "no-answer"),
    ("D1", "文档没有说明中国残联的会员人数。", N, "no-answer"),
    # F1 (fresh): [1] the 2015 speech, the 2023 instruction  [2] the four principles  [3] the EU and cyber sovereignty  [4] laws and strategies
    ("F1", "In December 2015, at the second World Internet Conference, Xi Jinping proposed building a community with a shared future in cyberspace [1].", S, "translation"),
    ("F1", "2023年7月，习近平总书记对网络安全和信息化工作作出重要指示。[1]", S, "paraphrase"),
    ("F1", "The four principles include respecting cyber sovereignty and maintaining peace and security [2].", S, "translation"),
    ("F1", "尊重网络主权是推进全球互联网治理体系变革“四项原则”中的首要原则。[2]", S, "paraphrase"),
    ("F1", "The EU has embraced cyber sovereignty and adopted regulations such as the General Data Protection Regulation [3].", S, "translation"),
    ("F1", "2016年，中国出台了首部网络安全领域基础性法律《中华人民共和国网络安全法》。[4]", S, "paraphrase"),
    ("F1", "The Data Security Law and the Personal Information Protection Law were among the internet laws of 2021 [4].", S, "translation"),
    ("F1", "Xi Jinping raised the four principles at the second World Internet Conference, and China's Cybersecurity Law came out in 2016 [2][4].", S, "multi-citation"),
    ("F1", "习近平总书记提出了推进全球互联网治理体系变革的“五项原则”。[2]", U, "wrong-number"),
    ("F1", "The Cybersecurity Law was issued in 2018 [4].", U, "wrong-number"),
    ("F1", "The Fifth Plenary Session of the 18th Central Committee proposed the cyber power strategy in 2016, and the Cybersecurity Law was issued in 2015 [4].", U, "swapped-year"),
    ("F1", "2023年12月习近平提出构建网络空间命运共同体，2015年7月又作出重要指示。[1]", U, "swapped-year"),
    ("F1", "欧盟制定了《通用数据保护条例》等监管法律。[2]", U, "wrong-citation"),
    ("F1", "In 2016 China issued its first basic law on cybersecurity [1].", U, "wrong-citation"),
    ("F1", "The EU proposed the concepts of data, digital and technological sovereignty [5].", U, "nonexistent-citation"),
    ("F1", "中国率先提出网络主权概念。", U, "no-citation"),
    ("F1", "The EU has never accepted the idea of cyber sovereignty [3].", U, "negation"),
    ("F1", "中国并未在国际上推广网络主权概念。[2]", U, "negation"),
    ("F1", "The four principles were first put forward by Li Keqiang [2].", U, "invented-name"),
    ("F1", "欧盟制定了《数字市场法》等监管法律。[3]", U, "invented-name"),
    ("F1", "The passages do not say when the EU changed its position.", N, "no-answer"),
    ("F1", "文中未提及网络主权的具体定义。", N, "no-answer"),
    # F2 (fresh): [1] China–Arab initiative, BRICS Beijing declaration  [2] the concept first proposed  [3] a security community
    ("F2", "In 2021 China and the League of Arab States secretariat issued the China-Arab Data Security Cooperation Initiative [1].", S, "translation"),
    ("F2", "2022年通过的《金砖国家领导人第十四次会晤北京宣言》提出继续推进金砖国家务实合作。[1]", S, "paraphrase"),
    ("F2", "The idea of a community with a shared future in cyberspace has become the permanent theme of the World Internet Conference [2].", S, "translation"),
    ("F2", "构建网络空间命运共同体理念是习近平于2015年在第二届世界互联网大会上首次提出的。[2]", S, "paraphrase"),
    ("F2", "Building a security community means advocating an open and cooperative concept of cybersecurity [3].", S, "translation"),
    ("F2", "维护网络安全是国际社会的共同责任。[3]", S, "paraphrase"),
    ("F2", "The concept was first proposed in 2015, and in 2021 China and the Arab League secretariat issued a data security initiative [2][1].", S, "multi-citation"),
    ("F2", "《金砖国家领导人第十五次会晤北京宣言》于2022年通过。[1]", U, "wrong-number"),
    ("F2", "Xi Jinping set out four principles and six proposals on internet development and governance [2].", U, "wrong-number"),
    ("F2", "The China-Arab initiative was issued in 2022 and the BRICS Beijing Declaration was adopted in 2021 [1].", U, "swapped-year"),
    ("F2", "中国以数字丝绸之路为抓手，向沿线各国提供能力建设等援助。[3]", U, "wrong-citation"),
    ("F2", "Cybersecurity is a global challenge that no country can escape on its own [1].", U, "wrong-citation"),
    ("F2", "The concept reflects the common expectations of the international community [4].", U, "nonexistent-citation"),
    ("F2", "网络空间命运共同体理念得到国际社会广泛关注和普遍认同。", U, "no-citation"),
    ("F2", "Cybersecurity is not a shared responsibility of the international community [3].", U, "negation"),
    ("F2", "The concept was first proposed at the World Internet Conference held in Shanghai [2].", U, "invented-name"),
    ("F2", "2021年，中国和欧洲联盟秘书处发表《中阿数据安全合作倡议》。[1]", U, "invented-name"),
    ("F2", "The passages do not mention how many countries signed the initiative.", N, "no-answer"),
    ("F2", "材料没有给出具体的合作项目数量。", N, "no-answer"),
    # F3 (fresh): [1] First Presbyterian Church, Detroit  [2] The Friends of Voltaire  [3] Haut-Rhin (Traditional)  [4] African Americans (Traditional)
    ("F3", "The First Presbyterian Church in Detroit was built in 1889 [1].", S, "translation"),
    ("F3", "底特律第一长老会教堂由乔治·梅森设计，模仿了波士顿三一教堂。[1]", S, "paraphrase"),
    ("F3", "The Friends of Voltaire was written by Evelyn Beatrice Hall under the pen name S. G. Tallentyre and published in 1906 [2].", S, "translation"),
    ("F3", "《伏尔泰的朋友们》记叙了10个生活非常接近的人的故事。[2]", S, "paraphrase"),
    ("F3", "Haut-Rhin was created on 4 March 1790 during the French Revolution [3].", S, "translation"),
    ("F3", "上莱茵省东侧沿莱茵河与德国接壤，南侧与瑞士接壤。[3]", S, "paraphrase"),
    ("F3", "In 2008 Barack Obama won the presidential election, becoming the first US president with black ancestry [4].", S, "translation"),
    ("F3", "1960年起的黑人自我认同运动强调“黑就是美”。[4]", S, "paraphrase"),
    ("F3", "The church building became the Ecumenical Theological Seminary, founded in 1980, and Haut-Rhin borders Switzerland to the south [1][3].", S, "multi-citation"),
    ("F3", "底特律第一长老会教堂兴建于1898年。[1]", U, "wrong-number"),
    ("F3", "The book tells the stories of 12 people close to Voltaire [2].", U, "wrong-number"),
    ("F3", "Alsace was assigned to Germany in 1919 and returned to France in 1871 [3].", U, "swapped-year"),
    ("F3", "1992年底特律长老会将房屋、土地捐赠给基督教神学院；2002年计划将教堂租借给一所神学院。[1]", U, "swapped-year"),
    ("F3", "Woodward Avenue was widened in 1936 [2].", U, "wrong-citation"),
    ("F3", "巴拉克·欧巴马在2008年赢得总统选举。[3]", U, "wrong-citation"),
    ("F3", "Haut-Rhin is one of the wealthiest departments in France [6].", U, "nonexistent-citation"),
    ("F3", "这句话常被误认为是伏尔泰本人所述。", U, "no-citation"),
    ("F3", "Unemployment in Haut-Rhin is very high [3].", U, "negation"),
    ("F3", "该书并未以“我不同意你的意见，但我以死捍卫你说话的权利”来阐释伏尔泰的思想。[2]", U, "negation"),
    ("F3", "The church was designed by Frank Lloyd Wright [1].", U, "invented-name"),
    ("F3", "《伏尔泰的朋友们》于1907年由企鹅出版社在英国出版。[2]", U, "invented-name"),
    ("F3", "None of the passages say who paid for the church.", N, "no-answer"),
    ("F3", "文中没有说明上莱茵省的人口。", N, "no-answer"),
]  # fmt: skip


def paragraph(path: str, quote: str) -> str:
    """The paragraph of ``path`` that holds ``quote`` (external sets: the article's text), cut at a sentence
    end near MAX_PASSAGE characters."""
    text = (PROJECT / path).read_text(encoding="utf-8")
    if text.startswith("---"):
        text = text.split("---", 2)[2]
    pieces = [p.strip() for p in re.split(r"[\u3000\s]{2,}|\n", text) if p.strip()]
    found = next(p for p in pieces if quote in p) if quote else max(pieces, key=len)
    if len(found) <= MAX_PASSAGE:
        return found
    cut = max(found.rfind(mark, 0, MAX_PASSAGE) for mark in "。；")
    return found[: cut + 1] if cut > 0 else found[:MAX_PASSAGE]


def build() -> list[dict]:
    passages = {
        scene: [{"rank": n, "text": paragraph(path, quote)} for n, (path, quote) in enumerate(sources, 1)]
        for scene, (_, _, sources) in SCENES.items()
    }
    rows = []
    for number, (scene, answer, label, kind) in enumerate(ITEMS, 1):
        split, source, _ = SCENES[scene]
        lang = "zh" if re.search(r"[\u3400-\u9fff]", answer) else "en"
        rows.append(
            {
                "id": f"cite{number:03d}",
                "split": split,
                "scene": scene,
                "source": source,
                "lang": lang,
                "label": label,
                "kind": kind,
                "answer": answer,
                "passages": passages[scene],
            }
        )
    return rows


def main() -> int:
    rows = build()
    OUT.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    print(f"{len(rows)} items → {OUT.relative_to(PROJECT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
