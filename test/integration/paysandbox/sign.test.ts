/**
 * The Pay sandbox's own signer against published vectors: it is the independent check on the
 * product's signing, so it must itself be right.
 */
import { BIZ_RED_PACKET_PAYSIGN_CASE, bizRedPacketPaySign, payStringSignTemp, payV2Sign } from '../../../scripts/local/paysandbox';

// reference/wechat-api.md §6, the official "安全规范" example.
const OFFICIAL_FIELDS = { appid: 'wxd930ea5d5a258f4f', mch_id: '10000100', device_info: '1000', body: 'test', nonce_str: 'ibuaiVcKdpRxkhJA' };
const OFFICIAL_KEY = '192006250b4c09247ec02edce69f6a2d';

describe('payStringSignTemp', () => {
  it('sorts the names in ASCII order and appends the key, exactly as the official example writes it', () => {
    expect(payStringSignTemp(OFFICIAL_FIELDS, OFFICIAL_KEY)).toBe(
      'appid=wxd930ea5d5a258f4f&body=test&device_info=1000&mch_id=10000100&nonce_str=ibuaiVcKdpRxkhJA&key=192006250b4c09247ec02edce69f6a2d',
    );
  });

  it('leaves out sign and empty values, and keeps UTF-8 values unencoded', () => {
    expect(payStringSignTemp({ b: '红包', a: '', sign: 'X', C: '1' }, 'k')).toBe('C=1&b=红包&key=k');
  });
});

describe('payV2Sign', () => {
  it.each([
    // chanxuehong/wechat mch/core/sign_test.go TestSign @cf4dd532.
    { case: 'MD5 (chanxuehong TestSign)', signType: 'MD5' as const, expected: '9A0A8659F005D6984697E2CA0A9CF3B7' },
    // binarywang/WxJava SignUtilsTest, HMAC_SHA256 over the same official example.
    { case: 'HMAC-SHA256 (WxJava SignUtilsTest)', signType: 'HMAC-SHA256' as const, expected: '6A9AE1657590FD6257D693A078E1C3E4BB6BA4DC30B23E0EE2496E54170DACD6' },
  ])('signs the official example: $case', ({ signType, expected }) => {
    expect(payV2Sign(OFFICIAL_FIELDS, OFFICIAL_KEY, signType)).toBe(expected);
  });
});

describe('bizRedPacketPaySign', () => {
  // shenghui0779/gochat mch/mch_test.go TestMinipRedpackJSAPI (reference §8 peer vector).
  const rawPackage = 'sendid=242e8abd163d300019b2cae74ba8e8c06e3f0e51ab84d16b3c80decd22a5b672&ver=8&sign=4110d649a5aef52dd6b95654ddf91ca7d5411ac159ace4e1a766b7d3967a1c3dfe1d256811445a4abda2d9cfa4a9b377a829258bd00d90313c6c346f2349fe5d&mchid=11475856&appid=wxd27ebc41b85ce36d';
  const params = { appId: 'wx2421b1c4370ec43b', nonceStr: 'e61463f8efa94090b1f366cccfbbb444', timeStamp: '1414561699', package: encodeURIComponent(rawPackage) };

  it('matches the gochat vector: the URL-encoded package signed, signType not signed, lowercase MD5', () => {
    expect(BIZ_RED_PACKET_PAYSIGN_CASE).toBe('lower');
    expect(bizRedPacketPaySign(params, OFFICIAL_KEY)).toBe('0cecd02326e26c27fbc77f6062ef8654');
  });
});
