"""The applicants of bench/clerk_pages_bench.sh: case n's legal representative, a name, a valid
ID number (GB 11643 check character) and a mobile number, all varying with n. Harsher than a
district on purpose: a two-character name beginning is shared by 1 case in 400, the last four
digits of an ID number by about 1 in 80 (the 8 sequence numbers used), a phone's by 1 in 10,000."""
import datetime

SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平"
WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
CHECK = "10X98765432"


def person(n):
    name = SURNAMES[n % 20] + GIVEN[(n // 20) % 20] + GIVEN[(n // 400) % 20]
    born = datetime.date(1960, 1, 1) + datetime.timedelta(days=n % 14000)
    body = "110105" + born.strftime("%Y%m%d") + f"{(n // 14000) * 7 % 1000:03d}"
    id_number = body + CHECK[sum(int(d) * w for d, w in zip(body, WEIGHTS)) % 11]
    return name, id_number, f"139{n:08d}"
