"""Messages of `error` frames. The Chinese strings are what the likeshop clients show to people."""


class ChatError(Exception):
    """A client event failed; `args[0]` is the `error` frame's message. Nothing was half-done."""

    @property
    def msg(self) -> str:
        return self.args[0]


UNKNOWN_EVENT = "未知事件"
WRONG_ROLE = "无权发送该事件"
BAD_MSG_TYPE = "不支持的消息类型"
EMPTY_TEXT = "消息内容不能为空"
TEXT_TOO_LONG = "消息内容过长"
BAD_RECIPIENT = "接收对象错误"
NO_SUCH_KEFU = "客服不存在"
NO_SUCH_USER = "用户不存在"
BAD_IMAGE = "图片不存在或不属于你"
NO_SUCH_GOODS = "商品不存在或已下架"
GOODS_UNAVAILABLE = "商品信息获取失败，请稍后再试"
TRANSFER_FAILED = "转接失败"
KEFU_OFFLINE = "该客服不在线"
FORBIDDEN_SHOP = "无权操作其他店铺的会话"
BAD_CLIENT_MSG_ID = "client_msg_id 须为 1-64 个字符"
BAD_CHARACTER = "消息内容包含非法字符"
BUSY = "服务繁忙，请稍后再试"
TOO_FAST = "发送太频繁，请稍后再试"
# handshake
BAD_TOKEN = "登录已失效，请重新登录"
BAD_TYPE = "type 参数错误"
BAD_CLIENT = "client 参数错误"
NO_SUCH_SHOP = "店铺不存在"
WRONG_SHOP = "客服不属于该店铺"
REVOKED = "账号已退出登录或被禁用"
SHOP_REVOKED = "店铺已被冻结或关闭"
BAD_ORIGIN = "来源不被允许"
TOO_MANY_NEW_CONNECTIONS = "连接太频繁，请稍后再试"
TOO_MANY_CONNECTIONS = "连接数过多"
REPLACED = "账号已在别处登录"
