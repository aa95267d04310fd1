/**
 * Golden vectors for the APIv3 signing module (reference/pay-v3-transfer.md §5). Each constant names
 * the suite it comes from; the V3 signatures were computed for this API with the V1 key and
 * recomputed with Python `cryptography` and Node `crypto` (reference §5).
 */
// V1 — wechatpay-go core/auth/signers/sha256withrsa_signer_test.go l.20–54 (armoured TESTING KEY there too,
// so secret scanners leave a published test key alone; the repo swaps the label before loading, as we do).
export const V1_TESTING_KEY = [
  "-----BEGIN TESTING KEY-----",
  "MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQDZUJN33V+dSfvd",
  "fL0Mu+39XrZNXFFMQSy1V15FpncHeV47SmV0TzTqZc7hHB0ddqAdDi8Z5k3TKqb7",
  "6sOwYr5TcAfuR6PIPaleyE0/0KrljBum2Isa2Nyq7Dgc3ElBQ6YN4l/a+DpvKaz1",
  "FSKmKrhLNskqokWVSlu4g8OlKlbPXQ9ibII14MZRQrrkTmHYHzfi7GXXM0thAKuR",
  "0HNvyhTHBh4/lrYM3GaMvmWwkwvsMavnOex6+eioZHBOb1/EIZ/LzC6zuHArPpyW",
  "3daGaZ1rtQB1vVzTyERAVVFsXXgBHvfFud3w3ShsJYk8JvMwK2RpJ5/gV0QSARcm",
  "LDRUAlPzAgMBAAECggEBAMc7rDeUaXiWv6bMGbZ3BTXpg1FhdddnWUnYE8HfX/km",
  "OFI7XtBHXcgYFpcjYz4D5787pcsk7ezPidAj58zqenuclmjKnUmT3pfbI5eCA2v4",
  "C9HnbYDrmUPK1ZcADtka4D6ScDccpNYNa1g2TFHzkIrEa6H+q7S3O2fqxY/DRVtN",
  "0JIXalBb8daaqL5QVzSmM2BMVnHy+YITJWIkP2a3pKs9C0W65JGDsnG0wVrHinHF",
  "+cnhFZIbaPEI//DAFMc9NkrWOKVRTEgcCUxCFaHOZVNxDWZD7A2ZfJB2rK6eg//y",
  "gEiFDR2h6mTaDowMB4YF2n2dsIO4/dCG8vPHI20jn4ECgYEA/ZGu6lEMlO0XZnam",
  "AZGtiNgLcCfM/C2ZERZE7QTRPZH1WdK92Al9ndldsswFw4baJrJLCmghjF/iG4zi",
  "hhBvLnOLksnZUfjdumxoHDWXo2QBWbI5QsWIE7AuTiWgWj1I7X4fCXSQf6i+M/y2",
  "6TogQ7d0ANpZFyOkTNMn/tiJvLECgYEA22XqlamG/yfAGWery5KNH2DGlTIyd6xJ",
  "WtJ9j3jU99lZ0bCQ5xhiBbU9ImxCi3zgTsoqLWgA/p00HhNFNoUcTl9ofc0G3zwT",
  "D1y0ZzcnVKxGJdZ6ohW52V0hJStAigtjYAsUgjm7//FH7PiQDBDP1Wa6xSRkDQU/",
  "aSbQxvEE8+MCgYEA3bb8krW7opyM0XL9RHH0oqsFlVO30Oit5lrqebS0oHl3Zsr2",
  "ZGgoBlWBsEzk3UqUhTFwm/DhJLTSJ/TQPRkxnhQ5/mewNhS9C7yua7wQkzVmWN+V",
  "YeUGTvDGDF6qDz12/vJAgSwDDRym8x4NcXD5tTw7mmNRcwIfL22SkysThIECgYAV",
  "BgccoEoXWS/HP2/u6fQr9ZIR6eV8Ij5FPbZacTG3LlS1Cz5XZra95UgebFFUHHtC",
  "EY1JHJY7z8SWvTH8r3Su7eWNaIAoFBGffzqqSVazfm6aYZsOvRY6BfqPHT3p/H1h",
  "Tq6AbBffxrcltgvXnCTORjHPglU0CjSxVs7awW3AEQKBgB5WtaC8VLROM7rkfVIq",
  "+RXqE5vtJfa3e3N7W3RqxKp4zHFAPfr82FK5CX2bppEaxY7SEZVvVInKDc5gKdG/",
  "jWNRBmvvftZhY59PILHO2X5vO4FXh7suEjy6VIh0gsnK36mmRboYIBGsNuDHjXLe",
  "BDa+8mDLkWu5nHEhOxy2JJZl",
  "-----END TESTING KEY-----",
].join('\n');
export const V1_PRIVATE_KEY_PEM = V1_TESTING_KEY.replaceAll('TESTING KEY', 'PRIVATE KEY');
export const V1_MCH_ID = '1234567890';
export const V1_SERIAL_NO = 'F5765756002FDD77';
/** RSA-SHA256 of the 6 bytes `source` (go test). */
export const V1_SOURCE_SIGNATURE = "BKyAfU4iMCuvXMXS0Wzam3V/cnxZ+JaqigPM5OhljS2iOT95OO6Fsuml2JkFANJU9K6q9bLlDhPXuoVz+pp4hAm6pHU4ld815U4jsKu1RkyaII+1CYBUYC8TK0XtJ8FwUXXz8vZHh58rrAVN1XwNyvD1vfpxrMT4SL536GLwvpUHlCqIMzoZUguLli/K8V29QiOhuH6IEqLNJn8e9b3nwNcQ7be3CzYGpDAKBfDGPCqCv8Rw5zndhlffk2FEA70G4hvMwe51qMN/RAJbknXG23bSlObuTCN7Ndj1aJGH6/L+hdwfLpUtJm4QYVazzW7DFD27EpSQEqA8bX9+8m1rLg==";

// V3 — derived for transfer-bills (reference §5 V3): ts 1624523846, nonce A1B2C3D4E5F6G7, the V1 key.
export const V3_TIMESTAMP = 1624523846;
export const V3_NONCE = 'A1B2C3D4E5F6G7';
/** The 447-byte create body, one line, no spaces. */
export const V3_CREATE_BODY = "{\"appid\":\"wxf636efh567hg4356\",\"out_bill_no\":\"plfk2020042013\",\"transfer_scene_id\":\"1000\",\"openid\":\"o-MYE42l80oelYMDE34nYD456Xoy\",\"transfer_amount\":100,\"transfer_remark\":\"新会员有礼\",\"notify_url\":\"https://www.weixin.qq.com/wxpay/pay.php\",\"user_recv_perception\":\"现金奖励\",\"transfer_scene_report_infos\":[{\"info_type\":\"活动名称\",\"info_content\":\"新会员有礼\"},{\"info_type\":\"奖励说明\",\"info_content\":\"注册会员抽奖一等奖\"}]}";
export const V3_CREATE_SIGNATURE = "HPlPEFHYXU8g6CNzQOcQ/ji4It0FtChXc0N48vxt9owBSyu/Mt/bNimKo8YG4QHZgU94LzkmturBLU9nuLItHpOVa6hXh8naOOIAIh4yCKqmya3oOZY+xtWcpqfbY4ulniWgI9MIn6v9gntIvhsjqzzHX0Gom5cZ1EYcC975uXjUwvbsUTcucJP+Bl08k1TNSPz9wK/4Lgf3/jHTx9DRO8Tq8mmuYgD+sVzXOKT/TzrXdwvZLglYogT6jSYfXhNaFhxbPO3tcRiy1B0F8sJUH896FNEjNdrUQzW28gL24SsiNLKuzz/xRZ93sJSR0wlptzGwp/G66TH1PxS7wolmfg==";
export const V3_QUERY_SIGNATURE = "IJlGdoD8zTxiIUG+943w/imO9Siilt6bbK2/R3mcpFCHIAPsfK6t8fszhY6MFGiDUj0OJebliOyWoUMeHCTMjkO5oBVDQiBu92Y2GAT11bRnRmPOB1GeF2sA4Vac4qrOS7udImKrsfihllTu/1YOiIriuto6WH3GIAr19WsCHmbDgZeB2muLiRIxM6f7EHatnrVav2uaQ8CoKQgmft80MB9hQ/2OfePfd9fPwnLLJoaC3UUOgnmBaFL1H1oKEi3n7OKusLUE8d6stnmECIvkcxORwIsGeixqEIyGuwEUXZ4SxutKPxsXmBpDGJTZdBhMoEDcX3hB0kfuWaNUHXSnDQ==";
export const V3_CANCEL_SIGNATURE = "lTCri6jkPMvpZFrjiVs7F/ft2szO+q6jndjkTPmq3PTvBiVbaxbfvFLHnlV1ol1oF24arnI86PRz1wRwhAOzZode4h1IuAcM7/sFIvqQuJ6gfqqcMPKvzKv2G8EgEUDF0sT5qDcFrwxkcUwzin52u2Uy3R6Z350Ke9mz5nDtD07HQrcQcdOxkICVscUZEDBoYZIJcWYY2VQZ7AeMhUSmk/IrOTjOhTw3BJrONbmI8RnFEbSC+tCuLDo0E2NSBY2ENnmT7ggYH9lHCZOb2iARIDEyOfYyyWv3fDKDHzKaLea6STud+i2miuAtXb/UukNG/E32RZTz5oovXHwW+heBuA==";

// V5 — wechatpay-go core/notify/notify_test.go l.106–209, clock mocked to 1624523846; verifies with the V1
// public key (certificate serial D7CE59D1F522D701 there); resource key testMchAPIv3Key0 is 16 bytes → AES-128-GCM.
export const V5_HEADERS = {
  nonce: 'EcZ9Cmy4Xyx1i6RlJQzLcCyEqDa26NBz',
  timestamp: '1624523846',
  serial: 'D7CE59D1F522D701',
  signature: "tJHIiIS9eB2hAYstmAmbbD3ZE5LiIm/Ug5tuL4fC0YOFRWIHV39UFIZXC0e9Wl6lBu6sKvkqDkzpqzBsVHyXFlbYZTOQrVdG4b6LfTnK4mikv9++ixJMd3vTf2yCqvBkh98zs3Ds5zsYQakzbcwhmw4fMJs4nPLws28H0UW9FjDR//rxELLwXvV1VEA1IBLX70xptjL8hrfUjEE8kkry6yNJTHZRU8CAc7qHli2Ng1V1qb9ARbK8A3ThmFmPQvRGrapI/jS2laKKgYUmfdEdkNO6B2Cke5e8VTxY406ArAmQ90GAihDwIcb16TQMnzCMBoutnwZKNiKRACrFmtxw2Q==",
};
export const V5_BODY = "{\"id\":\"3119dfba-e649-5eec-ab1e-3412bc4d2e17\",\"create_time\":\"2021-06-24T16:37:26+08:00\",\"resource_type\":\"encrypt-resource\",\"event_type\":\"PAYSCORE.USER_OPEN_SERVICE\",\"summary\":\"签约成功\",\"resource\":{\"original_type\":\"payscore\",\"algorithm\":\"AEAD_AES_256_GCM\",\"ciphertext\":\"YDS3lKPaC4Y52Gf3uhft5qUBlIa8b428AWTtTauHQfQrRw+X1WpiuHIDy0vo1Vd6VEq67aVyqPdDYMkRVSDaZL3iZttevRMOoPKMifozg6XPWjIZumks/GpT48lI4NizyeaqLBokNebthah3o1H76qSlO9NkDjp9bzmKLEYYH9TEklFUpsvPqOTOcgSLgh21YJXYR7dEBXFgRLiNIKRgO5JdXh1hccRUAlyVWxE54PXpnQ==\",\"associated_data\":\"payscore\",\"nonce\":\"Kj7QIyUiYx1q\"}}";
export const V5_API_V3_KEY = 'testMchAPIv3Key0';
export const V5_PLAINTEXT = "{\"mchid\":\"1234567890\",\"appid\":\"054aa7d7a2a54ab5898df65bd96f001c\",\"create_time\":\"2020-06-30T12:12:00+08:00\",\"out_contract_code\":\"21640bdbd08e473e828f3206a2741c6e\"}";
